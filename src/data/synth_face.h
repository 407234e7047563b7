// Internals of the synthetic generator: the random stream, a subject's identity, the 68-point
// face shape, how each Action Unit moves landmarks and adds texture strokes, and the renderer.
//
// Coordinates: "face units" have their origin midway between the eye centres, x to the image's
// right, y down, about one pixel at scale 1 (a face is ~210 units wide). A Pose maps face units to
// image pixels: p_image = centre + scale · R(angle) · p_face.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <opencv2/core.hpp>
#include <vector>

#include "aulens/rng.h"

namespace aulens::synth {

inline constexpr int kImageWidth = 640;
inline constexpr int kImageHeight = 490;
inline constexpr int kLandmarks = 68;

// A stream seed derived from the run seed and a path (subject, sequence, frame, purpose...).
inline std::uint64_t stream_seed(std::uint64_t seed, std::initializer_list<std::uint64_t> path) {
  std::uint64_t s = mix64(seed ^ 0x5A17E5A17E5A17E5ull);
  for (std::uint64_t v : path) s = random_bits(s, v + 1);
  return s;
}

// Counter-based random draws from one stream: portable (no std distributions), order-defined.
class Random {
 public:
  explicit Random(std::uint64_t stream) : stream_(stream) {}
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform01(stream_, counter_++); }
  int index(int n) { return static_cast<int>(random_bits(stream_, counter_++) % std::uint64_t(n)); }
  bool chance(float p) { return uniform01(stream_, counter_++) < p; }
  std::uint64_t bits() { return random_bits(stream_, counter_++); }

 private:
  std::uint64_t stream_;
  std::uint64_t counter_ = 0;
};

// Who the subject is: face shape, feature placement and tones. All lengths in face units.
struct Identity {
  float jaw_half_width, jaw_height, jaw_top, jaw_squareness, forehead_height;
  float eye_spacing, eye_width, eye_open;  // eye_spacing: half the distance between eye centres
  float brow_height, brow_thickness, brow_arch;
  float nose_length, nose_width;
  float mouth_y, mouth_half_width, lip_upper, lip_lower;
  float skin, background, hair_tone, lip_tone, iris_tone;
  bool hair;
  float light;              // −1…1: side the light comes from
  float texture_amplitude;  // grey levels of skin blotches
  float scale;              // pixels per face unit
};

Identity draw_identity(std::uint64_t seed, int subject);

using Shape = std::array<cv::Point2f, kLandmarks>;

// The identity's neutral 68-point shape (iBUG order), face units.
Shape neutral_shape(const Identity& id);

struct Pose {
  cv::Point2f centre;
  float scale;
  float angle;  // radians
  cv::Point2f to_image(cv::Point2f p) const {
    const float c = std::cos(angle), s = std::sin(angle);
    return {centre.x + scale * (c * p.x - s * p.y), centre.y + scale * (s * p.x + c * p.y)};
  }
};

// One AU at one frame: amount 0…1 (its intensity times the ramp), side 0 both, −1 image-left
// half only, +1 image-right half only (unilateral AU14 of contempt).
struct AuActivation {
  int au;
  float amount;
  int side = 0;
};

// A texture mark an AU draws: a polyline crease (depth > 0 darkens), a filled dot or a filled
// ellipse (depth < 0 brightens). Face units.
struct Stroke {
  enum Kind { kLine, kDot, kEllipse };
  int au;
  Kind kind;
  std::vector<cv::Point2f> points;  // kLine: the polyline; kDot/kEllipse: the centre
  float thickness;                  // kLine: width; kDot: radius; kEllipse: x half-axis
  float depth;                      // grey levels at amount 1 (negative brightens)
  float height = 0.f;               // kEllipse: y half-axis
};

// The face at one frame: the deformed shape, its texture strokes (already scaled by amount) and,
// per active AU, the landmark indices whose pixels it changes.
struct Expression {
  Shape shape;
  std::vector<Stroke> strokes;
  float lip_pallor = 0.f;  // AU24: lips lose colour (0…1)
  float lip_border = 0.f;  // AU23: darker vermilion border (0…1)
};

Expression express(const Identity& id, const Shape& neutral, const std::vector<AuActivation>& aus);

// Pixel box (x0, y0 inclusive; x1, y1 exclusive) of the region AU `a.au` changes: its landmark
// group at the neutral and current positions and its strokes, padded, clipped to the image.
cv::Rect au_region(const AuActivation& a, const Shape& neutral, const Expression& expr,
                   const Pose& pose);

// What stays fixed through a sequence: background, lighting and skin noise, in image pixels.
struct SequenceLook {
  cv::Mat background;  // CV_8U
  cv::Mat shading;     // CV_32F multiplier
  cv::Mat noise;       // CV_32F grey levels added last
};

SequenceLook make_look(const Identity& id, const Pose& pose, std::uint64_t stream);

// Draws one grey 640×490 frame.
cv::Mat render_face(const Identity& id, const Shape& neutral, const Expression& expr,
                    const Pose& pose, const SequenceLook& look);

}  // namespace aulens::synth
