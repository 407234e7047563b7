// Synthetic faces: a subject's identity, its neutral 68-point shape (iBUG order), how each Action
// Unit of DESIGN §4 moves landmarks and adds texture strokes, and the pixel box each AU changes.
// All geometry here is in face units (see synth_face.h); the renderer maps it to pixels.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "aulens/check.h"
#include "data/synth_face.h"

namespace aulens::synth {
namespace {

float sign_of(float x) {
  return x > 0.5f ? 1.f : (x < -0.5f ? -1.f : 0.f);
}

// Mirrors a face-unit point to the other half of the face.
cv::Point2f mirror(cv::Point2f p) {
  return {-p.x, p.y};
}

// Applies one AU to an Expression: landmark displacements (first pass, all AUs) and texture
// strokes anchored to the final shape (second pass), both scaled by the AU's amount. Strokes
// are given for the image-left half (x < 0) and mirrored, respecting a unilateral side.
class AuEffect {
 public:
  AuEffect(const Identity& id, const Shape& neutral, Expression& expr, const AuActivation& a)
      : id_(id), neutral_(neutral), expr_(expr), a_(a) {}

  // Moves landmark i by (out, dy) × amount; `out` points away from the face's midline.
  void move(int i, float out, float dy) {
    const float s = sign_of(neutral_[i].x);
    if (a_.side != 0 && s != static_cast<float>(a_.side)) return;
    expr_.shape[i].x += s * out * a_.amount;
    expr_.shape[i].y += dy * a_.amount;
  }
  // move() for a list of indices with per-index dy (and the same `out`).
  void move_all(std::initializer_list<int> idx, std::initializer_list<float> dy, float out = 0.f) {
    AULENS_CHECK(idx.size() == dy.size(), "synth: index/displacement count mismatch");
    auto d = dy.begin();
    for (int i : idx) move(i, out, *d++);
  }

  // A crease on the image-left half, mirrored to the right (both subject to the AU's side).
  void line_pair(std::vector<cv::Point2f> left, float thickness, float depth) {
    if (a_.side <= 0) add({a_.au, Stroke::kLine, left, thickness, depth * a_.amount});
    if (a_.side >= 0) {
      for (auto& p : left) p = mirror(p);
      add({a_.au, Stroke::kLine, left, thickness, depth * a_.amount});
    }
  }
  // A crease on the midline.
  void line(std::vector<cv::Point2f> points, float thickness, float depth) {
    add({a_.au, Stroke::kLine, std::move(points), thickness, depth * a_.amount});
  }
  // A crease given as offsets from the image-left mouth corner (48), mirrored about the right
  // corner (54), so it follows each corner even when one side moved alone.
  void corner_line_pair(std::vector<cv::Point2f> offsets, float thickness, float depth) {
    std::vector<cv::Point2f> left, right;
    for (const auto& d : offsets) {
      left.push_back(expr_.shape[48] + d);
      right.push_back(expr_.shape[54] + mirror(d));
    }
    if (a_.side <= 0) add({a_.au, Stroke::kLine, left, thickness, depth * a_.amount});
    if (a_.side >= 0) add({a_.au, Stroke::kLine, right, thickness, depth * a_.amount});
  }
  void corner_dot_pair(cv::Point2f offset, float radius, float depth) {
    if (a_.side <= 0)
      add({a_.au, Stroke::kDot, {expr_.shape[48] + offset}, radius, depth * a_.amount});
    if (a_.side >= 0)
      add({a_.au, Stroke::kDot, {expr_.shape[54] + mirror(offset)}, radius, depth * a_.amount});
  }
  void dot_pair(cv::Point2f left, float radius, float depth) {
    if (a_.side <= 0) add({a_.au, Stroke::kDot, {left}, radius, depth * a_.amount});
    if (a_.side >= 0) add({a_.au, Stroke::kDot, {mirror(left)}, radius, depth * a_.amount});
  }
  void dot(cv::Point2f c, float radius, float depth) {
    add({a_.au, Stroke::kDot, {c}, radius, depth * a_.amount});
  }
  void ellipse_pair(cv::Point2f left, float ax, float ay, float depth) {
    if (a_.side <= 0) add({a_.au, Stroke::kEllipse, {left}, ax, depth * a_.amount, ay});
    if (a_.side >= 0) add({a_.au, Stroke::kEllipse, {mirror(left)}, ax, depth * a_.amount, ay});
  }

  float amount() const { return a_.amount; }
  const Identity& id() const { return id_; }
  const Shape& now() const { return expr_.shape; }
  Expression& expr() { return expr_; }

 private:
  void add(Stroke s) { expr_.strokes.push_back(std::move(s)); }
  const Identity& id_;
  const Shape& neutral_;
  Expression& expr_;
  const AuActivation& a_;
};

// ---- landmark displacements (face units at full intensity) ----

void move_landmarks(AuEffect& fx, int au) {
  switch (au) {
    case 1:  // inner brows up
      fx.move_all({17, 18, 19, 20, 21, 22, 23, 24, 25, 26},
                  {0, -2, -6, -10.5f, -13, -13, -10.5f, -6, -2, 0});
      break;
    case 2:  // outer brows up
      fx.move_all({17, 18, 19, 20, 21, 22, 23, 24, 25, 26},
                  {-13, -10.5f, -5, -1.5f, 0, 0, -1.5f, -5, -10.5f, -13});
      break;
    case 4:  // brows down and together
      fx.move_all({17, 18, 19, 20, 21, 22, 23, 24, 25, 26}, {5, 6, 7, 9, 10, 10, 9, 7, 6, 5});
      for (int i : {19, 24}) fx.move(i, -2, 0);
      for (int i : {20, 23}) fx.move(i, -4, 0);
      for (int i : {21, 22}) fx.move(i, -6, 0);
      break;
    case 5:  // upper lids up
      fx.move_all({37, 38, 43, 44}, {-5, -5, -5, -5});
      break;
    case 6:  // cheeks up: lower lids pushed up
      fx.move_all({40, 41, 46, 47, 36, 45}, {-2.5f, -2.5f, -2.5f, -2.5f, -1, -1});
      break;
    case 7:  // lids tightened
      fx.move_all({40, 41, 46, 47, 37, 38, 43, 44}, {-4, -4, -4, -4, 1.5f, 1.5f, 1.5f, 1.5f});
      break;
    case 9:  // nose wrinkled: nostrils up and flared, upper lip lifted a little
      fx.move_all({31, 32, 33, 34, 35}, {-4, -4, -4, -4, -4});
      for (int i : {31, 35}) fx.move(i, 2, 0);
      for (int i : {32, 34}) fx.move(i, 1, 0);
      fx.move_all({49, 50, 51, 52, 53}, {-1.5f, -1.5f, -1.5f, -1.5f, -1.5f});
      break;
    case 10:  // upper lip up
      fx.move_all({49, 50, 51, 52, 53, 61, 62, 63, 48, 54},
                  {-5, -6.5f, -6, -6.5f, -5, -3.5f, -3.5f, -3.5f, -1, -1});
      break;
    case 12:  // lip corners up and out
      for (int i : {48, 54}) fx.move(i, 5, -8);
      for (int i : {60, 64}) fx.move(i, 4.5f, -7);
      for (int i : {49, 53}) fx.move(i, 1.5f, -3);
      for (int i : {59, 55}) fx.move(i, 1.5f, -4.5f);
      fx.move_all({50, 52, 58, 56, 61, 63, 67, 65},
                  {-1.5f, -1.5f, -1.5f, -1.5f, -1.5f, -1.5f, -1.5f, -1.5f});
      break;
    case 14:  // dimpler: corners tightened inwards
      for (int i : {48, 54}) fx.move(i, -2.5f, -1);
      for (int i : {60, 64}) fx.move(i, -2.5f, -0.5f);
      break;
    case 15:  // lip corners down
      for (int i : {48, 54}) fx.move(i, 1, 8);
      fx.move_all({60, 64, 59, 55, 49, 53}, {6, 6, 3, 3, 2.5f, 2.5f});
      break;
    case 17:  // chin up, lower lip pushed up
      fx.move_all({6, 7, 8, 9, 10}, {-2.5f, -4.5f, -5.5f, -4.5f, -2.5f});
      fx.move_all({55, 56, 57, 58, 59, 65, 66, 67, 48, 54},
                  {-3, -4, -4.5f, -4, -3, -2.5f, -2.5f, -2.5f, -1, -1});
      fx.move_all({50, 51, 52}, {-1, -1, -1});
      break;
    case 20:  // lips stretched sideways and flattened
      for (int i : {48, 54}) fx.move(i, 8, 1);
      for (int i : {60, 64}) fx.move(i, 7, 0.5f);
      for (int i : {49, 53, 59, 55}) fx.move(i, 4, 0);
      for (int i : {50, 52, 58, 56, 61, 63, 67, 65}) fx.move(i, 1.5f, 0);
      fx.move_all({50, 51, 52, 56, 57, 58}, {1, 1, 1, -1.5f, -1.5f, -1.5f});
      break;
    case 23:  // lips tightened: red margins thinner, mouth narrower
      fx.move_all({49, 50, 51, 52, 53, 55, 56, 57, 58, 59},
                  {2, 3, 2.5f, 3, 2, -2.5f, -3.5f, -4, -3.5f, -2.5f});
      for (int i : {48, 54}) fx.move(i, -2.5f, 0);
      for (int i : {60, 64}) fx.move(i, -2, 0);
      fx.expr().lip_border = std::min(1.f, fx.expr().lip_border + fx.amount());
      break;
    case 24:  // lips pressed together
      fx.move_all({49, 50, 51, 52, 53, 55, 56, 57, 58, 59, 61, 62, 63, 65, 66, 67},
                  {1.5f, 1.5f, 1.5f, 1.5f, 1.5f, -2, -2, -2, -2, -2, 0.5f, 0.5f, 0.5f, -0.5f, -0.5f,
                   -0.5f});
      fx.expr().lip_pallor = std::min(1.f, fx.expr().lip_pallor + fx.amount());
      break;
    case 25:  // lips apart
      fx.move_all({61, 62, 63, 65, 66, 67, 55, 56, 57, 58, 59},
                  {-2, -2, -2, 7, 7, 7, 4, 5.5f, 6, 5.5f, 4});
      break;
    case 26:  // jaw dropped
      fx.move_all({3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13},
                  {2.4f, 5.6f, 8.8f, 12, 14.7f, 16, 14.7f, 12, 8.8f, 5.6f, 2.4f});
      fx.move_all({55, 56, 57, 58, 59, 65, 66, 67, 48, 54, 60, 64},
                  {9, 11.7f, 13, 11.7f, 9, 12, 12, 12, 3, 3, 2.5f, 2.5f});
      break;
    case 27:  // mouth stretched wide open
      fx.move_all({3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13},
                  {4.5f, 10.5f, 16.5f, 22.5f, 27.6f, 30, 27.6f, 22.5f, 16.5f, 10.5f, 4.5f});
      for (int i : {2, 3, 4, 5, 11, 12, 13, 14}) fx.move(i, -3, 0);
      fx.move_all({55, 56, 57, 58, 59, 65, 66, 67, 61, 62, 63, 49, 50, 51, 52, 53},
                  {17, 22.5f, 25, 22.5f, 17, 24, 24, 24, -3, -3, -3, -2, -2, -2, -2, -2});
      for (int i : {48, 54}) fx.move(i, -4, 7);
      for (int i : {60, 64}) fx.move(i, -4, 6);
      break;
    default:
      throw Error("synth: AU " + std::to_string(au) + " is not one the generator draws");
  }
}

// ---- texture strokes (anchored to the final shape; depth in grey levels at full intensity) ----

void add_strokes(AuEffect& fx, int au) {
  const Identity& id = fx.id();
  const Shape& s = fx.now();
  const float mw = id.mouth_half_width, my = id.mouth_y, L = id.nose_length, nw = id.nose_width;
  switch (au) {
    case 1: {  // central forehead wrinkles above the raised inner brows
      const float y0 = std::min(s[21].y, s[22].y) - 13;
      for (int k = 0; k < 3; ++k) {
        const float y = y0 - 8.5f * k;
        fx.line({{-22, y + 2.5f}, {-11, y - 0.5f}, {0, y - 1.5f}, {11, y - 0.5f}, {22, y + 2.5f}},
                2.6f, 32);
      }
      break;
    }
    case 2:  // lateral forehead wrinkles above the raised outer brows
      for (int k = 0; k < 2; ++k) {
        const float y = s[18].y - 13 - 8.5f * k;
        const float x = s[18].x;
        fx.line_pair({{x - 16, y + 3}, {x, y}, {x + 16, y + 2}}, 2.4f, 28);
      }
      break;
    case 4: {  // glabella furrows between the lowered brows, crease at the nose root
      const float y = 0.5f * (s[21].y + s[22].y);
      const float x = 0.25f * (s[22].x - s[21].x);
      fx.line_pair({{-x, y - 13}, {-x - 1, y}, {-x, y + 12}}, 3, 48);
      fx.line({{-9, s[27].y - 4}, {0, s[27].y - 5.5f}, {9, s[27].y - 4}}, 2.4f, 26);
      break;
    }
    case 6: {  // crow's feet, lower-lid crease, raised cheek highlight
      const cv::Point2f c = s[36];
      fx.line_pair({{c.x - 5, c.y - 3}, {c.x - 17, c.y - 9}}, 2.2f, 42);
      fx.line_pair({{c.x - 6, c.y + 0.5f}, {c.x - 19, c.y + 1.5f}}, 2.2f, 42);
      fx.line_pair({{c.x - 5, c.y + 4}, {c.x - 16, c.y + 11}}, 2.2f, 42);
      fx.line_pair({{s[36].x + 2, s[36].y + 8},
                    {s[41].x, s[41].y + 9},
                    {s[40].x, s[40].y + 9},
                    {s[39].x - 2, s[39].y + 7}},
                   2.4f, 40);
      fx.ellipse_pair({-(id.eye_spacing + 3), s[41].y + 26 - 6 * fx.amount()}, 18, 11, -20);
      break;
    }
    case 7:  // tense lower lid
      fx.line_pair({{s[36].x + 3, s[36].y + 3},
                    {s[41].x, s[41].y + 3.5f},
                    {s[40].x, s[40].y + 3.5f},
                    {s[39].x - 3, s[39].y + 2.5f}},
                   2, 34);
      break;
    case 9:  // wrinkles across the bridge, bunny lines, deeper nose-wing fold
      for (int k = 0; k < 3; ++k) {
        const float y = 4 + 7 * k, w = 7 + 1.5f * k;
        fx.line({{-w, y + 1.5f}, {0, y}, {w, y + 1.5f}}, 2.4f, 50);
      }
      fx.line_pair({{-6, 11}, {-16, 5}}, 2.2f, 36);
      fx.line_pair({{-nw - 3, L - 13}, {-nw - 6, L - 5}, {-nw - 3, L + 1}}, 2.4f, 36);
      break;
    case 10:  // nasolabial folds
      fx.line_pair({{-nw - 4, L - 3}, {-nw - 9, L + 10}, {-mw - 7, my - 4}, {-mw - 8, my + 6}},
                   2.8f, 42);
      break;
    case 12:  // smile brackets lateral to the raised corners
      fx.corner_line_pair({{-3, -16}, {-7, -5}, {-6, 8}}, 2.6f, 40);
      break;
    case 14:  // dimple beside the corner
      fx.corner_dot_pair({-6, -1}, 2.8f, 62);
      fx.corner_line_pair({{-4, -6}, {-7.5f, 0}, {-4, 5}}, 2, 36);
      break;
    case 15:  // marionette lines below the lowered corners
      fx.corner_line_pair({{-2, 4}, {-4, 14}, {-5, 25}}, 2.6f, 42);
      break;
    case 17: {  // mentolabial crease and the chin boss's dimpled texture
      const float y = s[57].y + 7;
      fx.line({{-mw * 0.55f, y + 2.5f}, {0, y}, {mw * 0.55f, y + 2.5f}}, 3, 46);
      static constexpr float kBoss[][2] = {{-14, -4}, {-6, -9}, {3, -5},   {12, -8}, {-9, 3},
                                           {1, 4},    {10, 2},  {-3, -14}, {7, -15}};
      const float cy = s[8].y - 17;
      for (const auto& d : kBoss) fx.dot({d[0], cy + d[1]}, 1.8f, 42);
      break;
    }
    case 20:  // stretch lines lateral to the corners
      fx.corner_line_pair({{-4, 1}, {-16, 4}}, 2.2f, 32);
      fx.corner_line_pair({{-3, 8}, {-13, 13}}, 2.2f, 26);
      break;
    case 24: {  // bulge under the pressed lower lip, harder closure line
      const float y = s[57].y + 4;
      fx.line({{-mw * 0.5f, y}, {0, y + 2}, {mw * 0.5f, y}}, 2.4f, 44);
      fx.line({s[60], s[61], s[62], s[63], s[64]}, 2, 30);
      break;
    }
    default:
      break;  // AU5, 23, 25, 26, 27: shape (and lip colour) only
  }
}

// The landmarks whose drawing an AU changes; its region box spans them (neutral and now).
std::vector<int> region_landmarks(int au) {
  std::vector<int> idx;
  auto range = [&](int a, int b) {
    for (int i = a; i <= b; ++i) idx.push_back(i);
  };
  switch (au) {
    case 1:
    case 2:
    case 4:
      range(17, 27);
      break;
    case 5:
    case 6:
    case 7:
      range(36, 47);
      break;
    case 9:
      range(27, 35);
      range(48, 54);
      break;
    case 17:
      range(48, 67);
      range(5, 11);
      break;
    case 26:
    case 27:
      range(48, 67);
      range(2, 14);
      break;
    default:
      range(48, 67);
      break;  // lip AUs
  }
  return idx;
}

}  // namespace

Identity draw_identity(std::uint64_t seed, int subject) {
  Random r(stream_seed(seed, {1, static_cast<std::uint64_t>(subject)}));
  Identity id{};
  id.jaw_half_width = r.uniform(94, 114);
  id.jaw_height = r.uniform(142, 162);
  id.jaw_top = r.uniform(2, 12);
  id.jaw_squareness = r.uniform(0.55f, 0.95f);
  id.forehead_height = r.uniform(118, 135);
  id.eye_spacing = r.uniform(45, 54);
  id.eye_width = r.uniform(33, 40);
  id.eye_open = r.uniform(7, 9.5f);
  id.brow_height = r.uniform(27, 35);
  id.brow_thickness = r.uniform(5.5f, 9);
  id.brow_arch = r.uniform(3, 9);
  id.nose_length = r.uniform(56, 68);
  id.nose_width = r.uniform(16, 23);
  id.mouth_y = id.nose_length + r.uniform(28, 36);
  id.mouth_half_width = r.uniform(35, 45);
  id.lip_upper = r.uniform(6, 9);
  id.lip_lower = r.uniform(8, 12);
  id.skin = r.uniform(125, 195);
  id.background = r.uniform(25, std::min(85.f, id.skin - 55));
  id.hair_tone = r.uniform(20, 75);
  id.lip_tone = id.skin - r.uniform(30, 55);
  id.iris_tone = r.uniform(25, 80);
  id.hair = r.chance(0.7f);
  id.light = r.uniform(-1, 1);
  id.texture_amplitude = r.uniform(3, 8);
  id.scale = r.uniform(1.12f, 1.32f);
  return id;
}

Shape neutral_shape(const Identity& id) {
  Shape s{};
  const float pi = std::numbers::pi_v<float>;
  // Jaw 0–16: a squared half-ellipse from ear to ear through the chin.
  for (int i = 0; i <= 16; ++i) {
    const float phi = pi * static_cast<float>(i) / 16.f;
    const float c = std::cos(phi), sn = std::sin(phi);
    const float x = -id.jaw_half_width * std::copysign(std::pow(std::abs(c), id.jaw_squareness), c);
    s[i] = {x, id.jaw_top + (id.jaw_height - id.jaw_top) * sn};
  }
  // Brows 17–21 (image-left, outer → inner) and 22–26 (mirror, inner → outer).
  const float brow_outer = id.eye_spacing + 0.7f * id.eye_width, brow_inner = 13.f;
  for (int k = 0; k < 5; ++k) {
    const float t = static_cast<float>(k) / 4.f;
    const float u = (t - 0.4f) / 0.6f;
    const float y = -id.brow_height - id.brow_arch * std::max(0.f, 1.f - u * u) + 3.f * (1 - t);
    s[17 + k] = {-(brow_outer + (brow_inner - brow_outer) * t), y};
    s[26 - k] = mirror(s[17 + k]);
  }
  // Nose 27–30 (bridge, top → tip) and 31–35 (base, image-left → right).
  const float L = id.nose_length, nw = id.nose_width;
  s[27] = {0, -3};
  s[28] = {0, 0.3f * L};
  s[29] = {0, 0.6f * L};
  s[30] = {0, 0.85f * L};
  s[31] = {-nw, L - 2};
  s[32] = {-0.5f * nw, L + 2};
  s[33] = {0, L + 3};
  s[34] = mirror(s[32]);
  s[35] = mirror(s[31]);
  // Eyes 36–41 (image-left: outer corner, two upper, inner corner, two lower) and 42–47.
  const float w = id.eye_width, h = id.eye_open;
  for (int e = 0; e < 2; ++e) {
    const float cx = e == 0 ? -id.eye_spacing : id.eye_spacing;
    const float left_x = cx - w / 2, right_x = cx + w / 2;
    const int base = 36 + 6 * e;
    // image-left eye starts at its outer corner, image-right eye at its inner corner
    s[base + 0] = {left_x, e == 0 ? 1.f : 0.f};
    s[base + 1] = {cx - w / 6, -h};
    s[base + 2] = {cx + w / 6, -h};
    s[base + 3] = {right_x, e == 0 ? 0.f : 1.f};
    s[base + 4] = {cx + w / 6, 0.72f * h};
    s[base + 5] = {cx - w / 6, 0.72f * h};
  }
  // Lips: outer 48–59 (left corner, upper left → right, right corner, lower right → left),
  // inner 60–67 (left corner, upper, right corner, lower).
  const float mw = id.mouth_half_width, my = id.mouth_y, lu = id.lip_upper, ll = id.lip_lower;
  s[48] = {-mw, my};
  s[49] = {-0.6f * mw, my - 0.9f * lu};
  s[50] = {-0.22f * mw, my - 1.1f * lu};
  s[51] = {0, my - 0.85f * lu};
  s[52] = mirror(s[50]);
  s[53] = mirror(s[49]);
  s[54] = mirror(s[48]);
  s[55] = {0.6f * mw, my + 0.85f * ll};
  s[56] = {0.25f * mw, my + ll};
  s[57] = {0, my + 1.02f * ll};
  s[58] = mirror(s[56]);
  s[59] = mirror(s[55]);
  s[60] = {-0.85f * mw, my};
  s[61] = {-0.3f * mw, my - 0.4f};
  s[62] = {0, my - 0.4f};
  s[63] = mirror(s[61]);
  s[64] = mirror(s[60]);
  s[65] = {0.3f * mw, my + 0.4f};
  s[66] = {0, my + 0.4f};
  s[67] = mirror(s[65]);
  return s;
}

Expression express(const Identity& id, const Shape& neutral, const std::vector<AuActivation>& aus) {
  Expression expr;
  expr.shape = neutral;
  for (const auto& a : aus) {
    if (a.amount <= 0.f) continue;
    AuEffect fx(id, neutral, expr, a);
    move_landmarks(fx, a.au);
  }
  for (const auto& a : aus) {
    if (a.amount <= 0.f) continue;
    AuEffect fx(id, neutral, expr, a);
    add_strokes(fx, a.au);
  }
  return expr;
}

cv::Rect au_region(const AuActivation& a, const Shape& neutral, const Expression& expr,
                   const Pose& pose) {
  float x0 = 1e9f, y0 = 1e9f, x1 = -1e9f, y1 = -1e9f;
  auto grow = [&](cv::Point2f face_point, float pad_units) {
    const cv::Point2f p = pose.to_image(face_point);
    const float pad = pad_units * pose.scale + 3.f;  // + the final blur and anti-aliasing
    x0 = std::min(x0, p.x - pad);
    y0 = std::min(y0, p.y - pad);
    x1 = std::max(x1, p.x + pad);
    y1 = std::max(y1, p.y + pad);
  };
  for (int i : region_landmarks(a.au)) {
    if (a.side != 0 && sign_of(neutral[i].x) != 0.f && sign_of(neutral[i].x) != a.side) continue;
    grow(neutral[i], 4.f);
    grow(expr.shape[i], 4.f);
  }
  for (const auto& s : expr.strokes) {
    if (s.au != a.au) continue;
    const float reach = s.kind == Stroke::kEllipse ? std::max(s.thickness, s.height) : s.thickness;
    for (const auto& p : s.points) grow(p, reach + 2.f);
  }
  const int ix0 = std::clamp(static_cast<int>(std::floor(x0)), 0, kImageWidth);
  const int iy0 = std::clamp(static_cast<int>(std::floor(y0)), 0, kImageHeight);
  const int ix1 = std::clamp(static_cast<int>(std::ceil(x1)), 0, kImageWidth);
  const int iy1 = std::clamp(static_cast<int>(std::ceil(y1)), 0, kImageHeight);
  return {ix0, iy0, std::max(0, ix1 - ix0), std::max(0, iy1 - iy0)};
}

}  // namespace aulens::synth
