// Draws one synthetic face frame with OpenCV: background, neck, ears, hair, head, brows, eyes,
// nose and mouth from the current 68-point shape (painter's order, anti-aliased, 1/16-pixel
// coordinates so slow AU ramps move edges smoothly), then the texture layer (AU creases, dots,
// highlights; lid creases and nose shading of the identity), lighting, a light blur and the
// sequence's fixed skin/sensor noise. The float filters are our own (data/synth_filter.h), so the
// bytes do not depend on which vector unit OpenCV picks.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <opencv2/imgproc.hpp>

#include "data/synth_face.h"
#include "data/synth_filter.h"

namespace aulens::synth {
namespace {

constexpr int kShift = 4;  // fixed-point bits for OpenCV drawing coordinates
constexpr float kOne = 1 << kShift;

cv::Point fixed(cv::Point2f p) {
  return {static_cast<int>(std::lround(p.x * kOne)), static_cast<int>(std::lround(p.y * kOne))};
}

cv::Scalar grey(float v) {
  return cv::Scalar(std::clamp(v, 0.f, 255.f));
}

class Painter {
 public:
  Painter(cv::Mat& image, const Pose& pose) : image_(image), pose_(pose) {}

  std::vector<cv::Point> to_pixels(const std::vector<cv::Point2f>& face_points) const {
    std::vector<cv::Point> out;
    out.reserve(face_points.size());
    for (const auto& p : face_points) out.push_back(fixed(pose_.to_image(p)));
    return out;
  }
  void fill(const std::vector<cv::Point2f>& poly, float tone) {
    const auto pts = to_pixels(poly);
    const cv::Point* data = pts.data();
    const int n = static_cast<int>(pts.size());
    cv::fillPoly(image_, &data, &n, 1, grey(tone), cv::LINE_AA, kShift);
  }
  void polyline(const std::vector<cv::Point2f>& line, float tone, float thickness_units,
                bool closed = false) {
    const auto pts = to_pixels(line);
    const int t = std::max(1, static_cast<int>(std::lround(thickness_units * pose_.scale)));
    cv::polylines(image_, pts, closed, grey(tone), t, cv::LINE_AA, kShift);
  }
  void ellipse(cv::Point2f centre, float ax, float ay, float tone) {
    const float s = pose_.scale;
    cv::ellipse(image_, fixed(pose_.to_image(centre)),
                cv::Size(static_cast<int>(ax * s * kOne), static_cast<int>(ay * s * kOne)),
                pose_.angle * 180.0 / std::numbers::pi, 0, 360, grey(tone), cv::FILLED, cv::LINE_AA,
                kShift);
  }

 private:
  cv::Mat& image_;
  const Pose& pose_;
};

std::vector<cv::Point2f> pick(const Shape& s, std::initializer_list<int> idx) {
  std::vector<cv::Point2f> out;
  for (int i : idx) out.push_back(s[i]);
  return out;
}

// Adds one stroke to the texture layer: drawn at full strength into a small patch, blurred,
// subtracted with its depth (negative depth brightens).
void paint_stroke(cv::Mat& texture, const Stroke& stroke, const Pose& pose) {
  if (std::abs(stroke.depth) < 1e-3f) return;
  std::vector<cv::Point2f> pts;
  for (const auto& p : stroke.points) pts.push_back(pose.to_image(p));
  const float size_px = stroke.thickness * pose.scale;
  const float extent = stroke.kind == Stroke::kEllipse
                           ? std::max(stroke.thickness, stroke.height) * pose.scale
                           : size_px;
  const float sigma = std::max(0.8f, 0.35f * (stroke.kind == Stroke::kEllipse ? extent : size_px));
  const float pad = extent + 3.f * sigma + 2.f;
  float x0 = 1e9f, y0 = 1e9f, x1 = -1e9f, y1 = -1e9f;
  for (const auto& p : pts) {
    x0 = std::min(x0, p.x - pad);
    y0 = std::min(y0, p.y - pad);
    x1 = std::max(x1, p.x + pad);
    y1 = std::max(y1, p.y + pad);
  }
  const cv::Rect box =
      cv::Rect(cv::Point(static_cast<int>(std::floor(x0)), static_cast<int>(std::floor(y0))),
               cv::Point(static_cast<int>(std::ceil(x1)), static_cast<int>(std::ceil(y1)))) &
      cv::Rect(0, 0, texture.cols, texture.rows);
  if (box.empty()) return;
  cv::Mat patch = cv::Mat::zeros(box.size(), CV_8U);
  std::vector<cv::Point> local;
  for (const auto& p : pts) local.push_back(fixed(p - cv::Point2f(box.tl())));
  switch (stroke.kind) {
    case Stroke::kLine: {
      const int t = std::max(1, static_cast<int>(std::lround(size_px)));
      cv::polylines(patch, local, false, cv::Scalar(255), t, cv::LINE_AA, kShift);
      break;
    }
    case Stroke::kDot:
      cv::circle(patch, local[0], static_cast<int>(size_px * kOne), cv::Scalar(255), cv::FILLED,
                 cv::LINE_AA, kShift);
      break;
    case Stroke::kEllipse:
      cv::ellipse(patch, local[0],
                  cv::Size(static_cast<int>(stroke.thickness * pose.scale * kOne),
                           static_cast<int>(stroke.height * pose.scale * kOne)),
                  pose.angle * 180.0 / std::numbers::pi, 0, 360, cv::Scalar(255), cv::FILLED,
                  cv::LINE_AA, kShift);
      break;
  }
  cv::Mat soft;
  patch.convertTo(soft, CV_32F, -stroke.depth / 255.0);
  gaussian_blur(soft, 0, sigma);
  cv::Mat target = texture(box);
  target += soft;
}

// Low-frequency noise in [−1, 1]: a coarse grid of counter-based draws, resized smoothly.
cv::Mat smooth_noise(std::uint64_t stream, int rows, int cols) {
  cv::Mat coarse(rows, cols, CV_32F);
  for (int i = 0; i < rows * cols; ++i) coarse.at<float>(i) = 2.f * uniform01(stream, i) - 1.f;
  return resize_cubic(coarse, cv::Size(kImageWidth, kImageHeight));
}

void draw_eye(cv::Mat& image, Painter& paint, const Identity& id, const Shape& s, int base,
              const Pose& pose) {
  const auto eye = pick(s, {base, base + 1, base + 2, base + 3, base + 4, base + 5});
  paint.fill(eye, std::min(id.skin + 45.f, 232.f));  // sclera
  // Iris, pupil and glint, drawn on a copy of the eye's box and kept inside the lid opening.
  std::vector<cv::Point2f> eye_px;
  for (const auto& p : eye) eye_px.push_back(pose.to_image(p));
  const cv::Rect box = (cv::boundingRect(eye_px) + cv::Point(-3, -3) + cv::Size(6, 6)) &
                       cv::Rect(0, 0, image.cols, image.rows);
  if (box.empty()) return;
  Pose local = pose;
  local.centre -= cv::Point2f(box.tl());
  cv::Mat mask = cv::Mat::zeros(box.size(), CV_8U);
  Painter mask_paint(mask, local);
  mask_paint.fill(eye, 255);
  cv::Mat iris = image(box).clone();
  Painter iris_paint(iris, local);
  const cv::Point2f centre = 0.5f * (s[base] + s[base + 3]) + cv::Point2f(0, -0.8f);
  const float r = 0.3f * id.eye_width;
  iris_paint.ellipse(centre, r, r, id.iris_tone);
  iris_paint.ellipse(centre, 0.45f * r, 0.45f * r, 12);
  iris_paint.ellipse(centre + cv::Point2f(0.35f * r, -0.35f * r), 1.3f, 1.3f, 235);
  iris.copyTo(image(box), mask > 127);
  // Lashes / upper lid line, lower lid line.
  paint.polyline(pick(s, {base, base + 1, base + 2, base + 3}), id.hair_tone * 0.7f, 2.3f);
  paint.polyline(pick(s, {base + 3, base + 4, base + 5, base}), id.skin * 0.62f, 1.1f);
}

}  // namespace

SequenceLook make_look(const Identity& id, const Pose& pose, std::uint64_t stream) {
  SequenceLook look;
  // Background: the subject's tone, a vertical gradient and soft blotches.
  cv::Mat bg = smooth_noise(random_bits(stream, 1), 12, 16) * 14.f;
  for (int y = 0; y < kImageHeight; ++y) {
    float* row = bg.ptr<float>(y);
    const float g = id.background + 18.f * (static_cast<float>(y) / kImageHeight - 0.5f);
    for (int x = 0; x < kImageWidth; ++x) row[x] += g;
  }
  bg.convertTo(look.background, CV_8U);
  // Lighting: darker towards the face's edges, brighter on the lit side.
  look.shading.create(kImageHeight, kImageWidth, CV_32F);
  const cv::Point2f c = pose.to_image({0, 25});
  const float rx = 1.2f * id.jaw_half_width * pose.scale;
  const float ry = 0.65f * (id.jaw_height + id.forehead_height) * pose.scale;
  for (int y = 0; y < kImageHeight; ++y) {
    float* row = look.shading.ptr<float>(y);
    for (int x = 0; x < kImageWidth; ++x) {
      const float dx = (x - c.x) / rx, dy = (y - c.y) / ry;
      const float v =
          1.04f - 0.22f * (dx * dx + dy * dy) + 0.08f * id.light * std::clamp(dx, -1.f, 1.f);
      row[x] = std::clamp(v, 0.7f, 1.1f);
    }
  }
  // Noise: fine sensor grain plus skin blotches, fixed through the sequence.
  look.noise = smooth_noise(random_bits(stream, 2), 60, 80) * id.texture_amplitude;
  const std::uint64_t grain = random_bits(stream, 3);
  float* n = look.noise.ptr<float>(0);
  for (int i = 0; i < kImageHeight * kImageWidth; ++i) n[i] += 5.f * (uniform01(grain, i) - 0.5f);
  return look;
}

cv::Mat render_face(const Identity& id, const Shape& neutral, const Expression& expr,
                    const Pose& pose, const SequenceLook& look) {
  const Shape& s = expr.shape;
  cv::Mat image = look.background.clone();
  Painter paint(image, pose);
  const float W = id.jaw_half_width, F = id.forehead_height, pi = std::numbers::pi_v<float>;

  // Neck (fixed to the neutral jaw, so a dropping jaw only uncovers it), ears, hair behind.
  paint.fill({{neutral[5].x, neutral[5].y - 40},
              {neutral[11].x, neutral[11].y - 40},
              {neutral[11].x * 1.08f, 420},
              {neutral[5].x * 1.08f, 420}},
             id.skin * 0.78f);
  paint.ellipse({-(W + 2), id.jaw_top + 16}, 9, 21, id.skin * 0.88f);
  paint.ellipse({W + 2, id.jaw_top + 16}, 9, 21, id.skin * 0.88f);
  if (id.hair) paint.ellipse({0, -0.45f * F}, 1.1f * W, 0.78f * F, id.hair_tone);

  // Head: jaw 0–16 and a forehead arc back from ear to ear.
  std::vector<cv::Point2f> head(s.begin(), s.begin() + 17);
  for (int k = 1; k < 16; ++k) {
    const float th = pi * static_cast<float>(k) / 16.f;
    head.push_back({W * std::cos(th), id.jaw_top - F * std::sin(th)});
  }
  paint.fill(head, id.skin);
  if (id.hair) paint.ellipse({0, -F + 4}, 0.97f * W, 0.3f * F, id.hair_tone);

  // Brows: bands around the brow points, tapering to the outer end.
  for (int b = 0; b < 2; ++b) {
    std::vector<cv::Point2f> band;
    const int first = b == 0 ? 17 : 22;
    for (int k = 0; k < 5; ++k) {
      const float t = (b == 0 ? k : 4 - k) / 4.f;  // 0 outer → 1 inner
      band.push_back(s[first + k] + cv::Point2f(0, -id.brow_thickness * (0.3f + 0.25f * t)));
    }
    for (int k = 4; k >= 0; --k) {
      const float t = (b == 0 ? k : 4 - k) / 4.f;
      band.push_back(s[first + k] + cv::Point2f(0, id.brow_thickness * (0.25f + 0.25f * t)));
    }
    paint.fill(band, id.hair_tone + 8.f);
  }

  // Eyes.
  draw_eye(image, paint, id, s, 36, pose);
  draw_eye(image, paint, id, s, 42, pose);

  // Nose: nostrils, base line, wing outlines.
  const float L = id.nose_length, nw = id.nose_width;
  paint.ellipse(0.5f * (s[31] + s[32]) + cv::Point2f(0, -1.5f), 0.27f * nw, 2.8f, id.skin * 0.35f);
  paint.ellipse(0.5f * (s[34] + s[35]) + cv::Point2f(0, -1.5f), 0.27f * nw, 2.8f, id.skin * 0.35f);
  paint.polyline(pick(s, {31, 32, 33, 34, 35}), id.skin * 0.72f, 1.3f);
  paint.polyline({{s[31].x + 1, L - 11}, {s[31].x - 2, L - 5}, s[31]}, id.skin * 0.75f, 1.3f);
  paint.polyline({{s[35].x - 1, L - 11}, {s[35].x + 2, L - 5}, s[35]}, id.skin * 0.75f, 1.3f);

  // Mouth: lips, the cavity between the inner contours, upper teeth, closure line.
  const float lip = id.lip_tone + expr.lip_pallor * 0.6f * (id.skin - id.lip_tone);
  paint.fill(pick(s, {48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59}), lip);
  paint.fill(pick(s, {60, 61, 62, 63, 64, 65, 66, 67}), 22);
  const float gaps[5] = {0, s[67].y - s[61].y, s[66].y - s[62].y, s[65].y - s[63].y, 0};
  if (std::max({gaps[1], gaps[2], gaps[3]}) > 1.5f) {
    std::vector<cv::Point2f> teeth = pick(s, {60, 61, 62, 63, 64});
    for (int k = 4; k >= 0; --k)
      teeth.push_back(s[60 + k] + cv::Point2f(0, 0.4f * std::max(0.f, gaps[k])));
    paint.fill(teeth, 212);
  }
  paint.polyline(pick(s, {60, 61, 62, 63, 64}), lip * 0.55f, 1.2f);

  // Texture layer: the identity's soft shading marks, then every AU stroke.
  cv::Mat texture = cv::Mat::zeros(image.size(), CV_32F);
  const float h = id.eye_open;
  for (int base : {36, 42}) {  // upper-lid creases
    paint_stroke(texture,
                 {0,
                  Stroke::kLine,
                  {s[base] + cv::Point2f(0, -2), s[base + 1] + cv::Point2f(0, -0.55f * h - 2),
                   s[base + 2] + cv::Point2f(0, -0.55f * h - 2), s[base + 3] + cv::Point2f(0, -2)},
                  1.6f,
                  20},
                 pose);
  }
  for (float side : {-1.f, 1.f}) {  // nose sides
    paint_stroke(texture, {0, Stroke::kLine, {{side * 7, 4}, {side * 0.75f * nw, L - 10}}, 4, 14},
                 pose);
  }
  if (expr.lip_border > 0.f) {
    auto contour = pick(s, {48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 48});
    paint_stroke(texture, {23, Stroke::kLine, contour, 2.4f, 48 * expr.lip_border}, pose);
  }
  for (const auto& stroke : expr.strokes) paint_stroke(texture, stroke, pose);

  // Composite: (drawing + texture) × lighting, light blur, + fixed noise.
  cv::Mat lit;
  image.convertTo(lit, CV_32F);
  lit += texture;
  lit = lit.mul(look.shading);
  gaussian_blur(lit, 3, 0.7);
  lit += look.noise;
  cv::Mat out;
  lit.convertTo(out, CV_8U);  // rounds and saturates
  return out;
}

}  // namespace aulens::synth
