// `generate_synthetic` (aulens/synth.h): plans each subject's sequences (expression prototypes
// with optional extra AUs, AU-only combinations), ramps their AUs from neutral to apex, renders
// every frame and writes the CK+ layout plus per-frame AU region boxes.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <numbers>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <vector>

#include "aulens/check.h"
#include "aulens/synth.h"
#include "data/synth_face.h"

namespace aulens {
namespace {

namespace fs = std::filesystem;
using synth::AuActivation;
using synth::Random;

// Each expression's AU prototype (DESIGN §4), by CK+ emotion code.
const std::vector<int>& prototype(int emotion) {
  static const std::vector<int> kPrototypes[8] = {
      {},                    // neutral (unused)
      {4, 5, 7, 23, 24},     // anger
      {14},                  // contempt (unilateral)
      {9, 10, 17},           // disgust
      {1, 2, 4, 5, 20, 26},  // fear
      {6, 12},               // happy
      {1, 4, 15},            // sadness
      {1, 2, 5, 26},         // surprise
  };
  return kPrototypes[emotion];
}

// AUs that pull the same landmarks in opposite directions are never combined.
bool conflicts(int a, int b) {
  static const int kPairs[][2] = {{12, 15}, {23, 25}, {24, 25}, {23, 26},
                                  {24, 26}, {23, 27}, {24, 27}, {26, 27}};
  for (const auto& p : kPairs)
    if ((p[0] == a && p[1] == b) || (p[0] == b && p[1] == a)) return true;
  return false;
}

bool fits(const std::vector<int>& chosen, int au) {
  for (int c : chosen)
    if (c == au || conflicts(c, au)) return false;
  return true;
}

struct PlannedAu {
  int au;
  int intensity;  // 1–5 (A–E), the apex
  int side;       // 0 both, ±1 one half of the image
  float delay;    // fraction of the sequence before it starts to rise
  bool coded;     // false: written with intensity 0 (present, intensity not coded)
};

struct SequencePlan {
  int number;         // 1-based folder number
  int emotion;        // 1–7, or 0 for an AU-only sequence
  bool emotion_file;  // false: the Emotion folder exists but is empty
  int frames;
  synth::Pose pose;
  std::vector<PlannedAu> aus;
};

int subject_number(int subject) {
  return 5 + 2 * subject;
}

SequencePlan plan_sequence(const SynthConfig& cfg, const synth::Identity& id, int subject,
                           int sequence, const std::vector<int>& emotion_order) {
  Random r(synth::stream_seed(cfg.seed, {2, std::uint64_t(subject), std::uint64_t(sequence)}));
  SequencePlan plan;
  plan.number = sequence + 1;
  plan.frames = cfg.min_frames + r.index(cfg.max_frames - cfg.min_frames + 1);
  plan.pose.centre = {320.f + r.uniform(-22, 22), 212.f + r.uniform(-12, 12)};
  plan.pose.scale = id.scale * r.uniform(0.96f, 1.04f);
  plan.pose.angle = r.uniform(-4, 4) * std::numbers::pi_v<float> / 180.f;

  std::vector<int> chosen;
  int side_of_contempt = 0;
  if (r.chance(0.65f)) {
    plan.emotion = emotion_order[static_cast<std::size_t>(sequence) % emotion_order.size()];
    plan.emotion_file = !r.chance(0.15f);
    chosen = prototype(plan.emotion);
    if (plan.emotion == 2) side_of_contempt = r.chance(0.5f) ? -1 : 1;
    // Wide-open surprise and fear: lips apart (25), sometimes the mouth stretched (27 for 26).
    if (plan.emotion == 4 || plan.emotion == 7) {
      if (r.chance(0.5f)) chosen.push_back(25);
      if (r.chance(0.3f)) std::replace(chosen.begin(), chosen.end(), 26, 27);
    }
    if (r.chance(0.3f)) {
      for (int tries = 0; tries < 20; ++tries) {
        const int extra = kSynthAus[static_cast<std::size_t>(r.index(kSynthAus.size()))];
        if (fits(chosen, extra)) {
          chosen.push_back(extra);
          break;
        }
      }
    }
  } else {
    plan.emotion = 0;
    plan.emotion_file = false;
    const int count = 1 + r.index(3);
    while (static_cast<int>(chosen.size()) < count) {
      const int au = kSynthAus[static_cast<std::size_t>(r.index(kSynthAus.size()))];
      if (fits(chosen, au)) chosen.push_back(au);
    }
  }
  std::sort(chosen.begin(), chosen.end());

  // Intensity A–E for the sequence, each AU within one step of it.
  const float u = r.uniform(0, 1);
  const int level = u < 0.1f ? 1 : u < 0.3f ? 2 : u < 0.6f ? 3 : u < 0.85f ? 4 : 5;
  for (int au : chosen) {
    PlannedAu p;
    p.au = au;
    p.intensity = std::clamp(level + r.index(3) - 1, 1, 5);
    p.side = 0;
    if (au == 14) p.side = plan.emotion == 2 ? side_of_contempt : (r.chance(0.3f) ? 1 : 0);
    p.delay = r.uniform(0, 0.25f);
    p.coded = !r.chance(0.12f);
    plan.aus.push_back(p);
  }
  return plan;
}

float smoothstep(float t) {
  t = std::clamp(t, 0.f, 1.f);
  return t * t * (3.f - 2.f * t);
}

// Each AU's amount at frame f (0-based) of n: its apex amplitude times a delayed smooth ramp.
std::vector<AuActivation> activations_at(const SequencePlan& plan, int f) {
  const float t = plan.frames > 1 ? static_cast<float>(f) / (plan.frames - 1) : 1.f;
  std::vector<AuActivation> out;
  for (const auto& p : plan.aus) {
    const float apex = 0.3f + 0.7f * (p.intensity - 1) / 4.f;
    out.push_back({p.au, apex * smoothstep((t - p.delay) / (1.f - p.delay)), p.side});
  }
  return out;
}

std::string e_notation(std::initializer_list<double> values) {
  std::string line;
  char buf[32];
  for (double v : values) {
    std::snprintf(buf, sizeof buf, "   %.7e", v);
    line += buf;
  }
  return line + "\n";
}

void write_bytes(const fs::path& path, const void* data, std::size_t size) {
  std::ofstream f(path, std::ios::binary);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  f.close();
  AULENS_REQUIRE(f.good(), "synth: cannot write '" + path.string() + "'");
}

void write_text(const fs::path& path, const std::string& text) {
  write_bytes(path, text.data(), text.size());
}

std::string frame_name(const std::string& subject, const std::string& sequence, int frame) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s_%s_%08d", subject.c_str(), sequence.c_str(), frame);
  return buf;
}

// What one subject contributed, merged in subject order afterwards.
struct SubjectCounts {
  int sequences = 0, frames = 0, empty_emotion = 0, au_only = 0;
  std::array<int, 8> emotions{};
  std::map<int, int> au_sequences, au_frames;
};

SubjectCounts write_subject(const SynthConfig& cfg, const fs::path& root, int subject) {
  SubjectCounts counts;
  const synth::Identity id = synth::draw_identity(cfg.seed, subject);
  const synth::Shape neutral = synth::neutral_shape(id);
  char subject_buf[16];
  std::snprintf(subject_buf, sizeof subject_buf, "S%03d", subject_number(subject));
  const std::string subject_name = subject_buf;

  // Emotions in a per-subject shuffled order, so every subject shows several of them.
  std::vector<int> emotion_order = {1, 2, 3, 4, 5, 6, 7};
  Random order_rng(synth::stream_seed(cfg.seed, {3, std::uint64_t(subject)}));
  for (int i = 6; i > 0; --i) std::swap(emotion_order[i], emotion_order[order_rng.index(i + 1)]);

  // Fast PNGs: the skin grain leaves little for LZ matching, so Huffman-only coding at level 1
  // is both the quickest and the smallest of OpenCV's choices here.
  const std::vector<int> png_params = {cv::IMWRITE_PNG_COMPRESSION, 1, cv::IMWRITE_PNG_STRATEGY,
                                       cv::IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY};
  for (int q = 0; q < cfg.sequences_per_subject; ++q) {
    const SequencePlan plan = plan_sequence(cfg, id, subject, q, emotion_order);
    char seq_buf[8];
    std::snprintf(seq_buf, sizeof seq_buf, "%03d", plan.number);
    const std::string seq_name = seq_buf;
    const fs::path rel = fs::path(subject_name) / seq_name;
    for (const char* top : {"cohn-kanade-images", "Landmarks", "FACS", "Regions"})
      fs::create_directories(root / top / rel);

    const synth::SequenceLook look = synth::make_look(
        id, plan.pose, synth::stream_seed(cfg.seed, {4, std::uint64_t(subject), std::uint64_t(q)}));
    for (int f = 0; f < plan.frames; ++f) {
      const std::string name = frame_name(subject_name, seq_name, f + 1);
      const auto aus = activations_at(plan, f);
      const synth::Expression expr = synth::express(id, neutral, aus);
      const cv::Mat image = synth::render_face(id, neutral, expr, plan.pose, look);
      std::vector<unsigned char> png;
      AULENS_CHECK(cv::imencode(".png", image, png, png_params), "synth: PNG encoding failed");
      write_bytes(root / "cohn-kanade-images" / rel / (name + ".png"), png.data(), png.size());

      // Landmarks as an AAM tracker would report them: the true points ± a fraction of a pixel.
      Random jitter(synth::stream_seed(
          cfg.seed, {5, std::uint64_t(subject), std::uint64_t(q), std::uint64_t(f)}));
      std::string landmarks;
      for (const auto& p : expr.shape) {
        const cv::Point2f ip = plan.pose.to_image(p);
        landmarks += e_notation(
            {ip.x + jitter.uniform(-0.35f, 0.35f), ip.y + jitter.uniform(-0.35f, 0.35f)});
      }
      write_text(root / "Landmarks" / rel / (name + "_landmarks.txt"), landmarks);

      std::string regions;
      for (const auto& a : aus) {
        if (a.amount < 0.1f) continue;  // not visibly active yet
        const cv::Rect box = synth::au_region(a, neutral, expr, plan.pose);
        regions += std::to_string(a.au) + " " + std::to_string(box.x) + " " +
                   std::to_string(box.y) + " " + std::to_string(box.x + box.width) + " " +
                   std::to_string(box.y + box.height) + "\n";
        ++counts.au_frames[a.au];
      }
      write_text(root / "Regions" / rel / (name + "_regions.txt"), regions);
      ++counts.frames;
    }

    // Peak-frame labels.
    const std::string peak = frame_name(subject_name, seq_name, plan.frames);
    std::string facs;
    for (const auto& p : plan.aus) {
      facs += e_notation({double(p.au), p.coded ? double(p.intensity) : 0.0});
      ++counts.au_sequences[p.au];
    }
    write_text(root / "FACS" / rel / (peak + "_facs.txt"), facs);
    if (plan.emotion > 0) {
      fs::create_directories(root / "Emotion" / rel);
      if (plan.emotion_file) {
        write_text(root / "Emotion" / rel / (peak + "_emotion.txt"),
                   e_notation({double(plan.emotion)}));
        ++counts.emotions[static_cast<std::size_t>(plan.emotion)];
      } else {
        ++counts.empty_emotion;
      }
    } else {
      ++counts.au_only;
    }
    ++counts.sequences;
  }
  return counts;
}

constexpr const char* kReadmeMarker = "aulens synthetic dataset";

std::string readme_text(const SynthConfig& cfg) {
  std::ostringstream s;
  s << kReadmeMarker << " (CK+ layout) -- SYNTHETIC, procedurally drawn faces, not real people\n"
    << "and not the Cohn-Kanade data.\n\n"
    << "generator: aulens synth, version " << kSynthVersion << "\n"
    << "seed: " << cfg.seed << "\n"
    << "subjects: " << cfg.subjects << "\n"
    << "sequences per subject: " << cfg.sequences_per_subject << "\n"
    << "frames per sequence: " << cfg.min_frames << " to " << cfg.max_frames << "\n\n"
    << "cohn-kanade-images/SNNN/NNN/*.png   grey 640x490, frame 1 neutral, last frame the apex\n"
    << "Landmarks/.../*_landmarks.txt       68 points (iBUG order), x y per line, every frame\n"
    << "FACS/.../*_facs.txt                 last frame: AU intensity (1-5 = A-E, 0 = not coded)\n"
    << "Emotion/.../*_emotion.txt           last frame: 1 anger 2 contempt 3 disgust 4 fear\n"
    << "                                    5 happy 6 sadness 7 surprise; some folders empty,\n"
    << "                                    AU-only sequences have no Emotion folder\n"
    << "Regions/.../*_regions.txt           every frame: 'AU x0 y0 x1 y1' per visibly active AU,\n"
    << "                                    the pixel box the AU changes (x0,y0 inclusive,\n"
    << "                                    x1,y1 exclusive); empty for neutral frames\n";
  return s.str();
}

bool is_synthetic_dataset(const fs::path& dir) {
  std::ifstream f(dir / "README.txt");
  std::string first;
  std::getline(f, first);
  return first.rfind(kReadmeMarker, 0) == 0;
}

void check_config(const SynthConfig& cfg) {
  AULENS_REQUIRE(
      cfg.subjects >= 1 && subject_number(cfg.subjects - 1) <= 999,
      "synth: subjects must be 1..497 (S005, S007, ... S999), got " + std::to_string(cfg.subjects));
  AULENS_REQUIRE(cfg.sequences_per_subject >= 1 && cfg.sequences_per_subject <= 999,
                 "synth: sequences_per_subject must be 1..999, got " +
                     std::to_string(cfg.sequences_per_subject));
  AULENS_REQUIRE(cfg.min_frames >= 2 && cfg.max_frames >= cfg.min_frames && cfg.max_frames <= 9999,
                 "synth: frames per sequence need 2 <= min_frames <= max_frames <= 9999, got " +
                     std::to_string(cfg.min_frames) + ".." + std::to_string(cfg.max_frames));
}

}  // namespace

std::string synthetic_readme(const SynthConfig& cfg) {
  return readme_text(cfg);
}

SynthSummary generate_synthetic(const SynthConfig& cfg, const fs::path& out_arg,
                                const SynthProgress& progress) {
  const auto start = std::chrono::steady_clock::now();
  check_config(cfg);
  fs::path out = out_arg.lexically_normal();
  if (!out.has_filename()) out = out.parent_path();
  AULENS_REQUIRE(!out.empty(), "synth: empty output path");
  if (fs::exists(out)) {
    AULENS_REQUIRE(fs::is_directory(out),
                   "synth: '" + out.string() + "' exists and is not a folder");
    AULENS_REQUIRE(fs::is_empty(out) || is_synthetic_dataset(out),
                   "synth: '" + out.string() +
                       "' exists and is not an aulens synthetic dataset; refusing to replace it");
  }
  fs::path partial = out;
  partial += ".partial";
  fs::remove_all(partial);
  fs::create_directories(partial);

  std::vector<SubjectCounts> per_subject(static_cast<std::size_t>(cfg.subjects));
  std::vector<std::string> errors(static_cast<std::size_t>(cfg.subjects));
  std::atomic<int> done{0};
#pragma omp parallel for schedule(dynamic, 1)
  for (int s = 0; s < cfg.subjects; ++s) {
    try {
      per_subject[static_cast<std::size_t>(s)] = write_subject(cfg, partial, s);
    } catch (const std::exception& e) {
      errors[static_cast<std::size_t>(s)] = e.what();
    }
#pragma omp critical(aulens_synth_progress)
    {
      ++done;  // counted and reported under one lock, so reports arrive in order
      if (progress) progress(done, cfg.subjects);
    }
  }
  for (const auto& e : errors) AULENS_CHECK(e.empty(), e);

  write_text(partial / "README.txt", synthetic_readme(cfg));
  if (fs::exists(out)) fs::remove_all(out);
  fs::rename(partial, out);

  SynthSummary summary;
  summary.root = out;
  summary.subjects = cfg.subjects;
  for (const auto& c : per_subject) {
    summary.sequences += c.sequences;
    summary.frames += c.frames;
    summary.empty_emotion_sequences += c.empty_emotion;
    summary.au_only_sequences += c.au_only;
    for (std::size_t e = 0; e < c.emotions.size(); ++e)
      summary.emotion_sequences[e] += c.emotions[e];
    for (const auto& [au, n] : c.au_sequences) summary.au_sequences[au] += n;
    for (const auto& [au, n] : c.au_frames) summary.au_frames[au] += n;
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

std::string format_summary(const SynthSummary& s) {
  std::ostringstream o;
  o << "synthetic CK+ dataset in " << s.root.string() << "\n"
    << "  subjects " << s.subjects << ", sequences " << s.sequences << ", frames " << s.frames
    << ", " << s.seconds << " s\n  emotions:";
  for (std::size_t e = 1; e < s.emotion_sequences.size(); ++e)
    o << " " << kEmotionNames[e] << " " << s.emotion_sequences[e];
  o << "\n  empty Emotion folder " << s.empty_emotion_sequences << ", AU-only "
    << s.au_only_sequences << "\n  AU sequences (frames visibly active):";
  for (int au : kSynthAus) {
    const auto seq = s.au_sequences.find(au);
    const auto fr = s.au_frames.find(au);
    o << " " << au << ":" << (seq == s.au_sequences.end() ? 0 : seq->second) << "("
      << (fr == s.au_frames.end() ? 0 : fr->second) << ")";
  }
  o << "\n";
  return o.str();
}

}  // namespace aulens
