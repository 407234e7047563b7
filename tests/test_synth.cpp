// The synthetic CK+ generator: a tiny set written to a temp folder has every file with the right
// name and format (e-notation parsed back, 68 landmarks inside the image, grey 640×490 PNGs,
// peak-frame FACS/Emotion, per-frame Regions); the same seed gives identical bytes, another seed
// different images; and each AU's pixel change (peak − neutral) lies mostly (≥ 70% of the absolute
// difference mass) inside the region box the generator records, both for single AUs rendered
// directly and for every sequence of the written set. Seeds are fresh each run and printed.
#include <gtest/gtest.h>

#ifdef AULENS_HAVE_OPENCV

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include "aulens/check.h"
#include "aulens/synth.h"
#include "data/synth_face.h"
#include "data/synth_filter.h"
#include "fresh_seed.h"

namespace aulens {
namespace {

namespace fs = std::filesystem;

class SynthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("aulens_test_synth_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

SynthConfig tiny_config(std::uint64_t seed) {
  SynthConfig cfg;
  cfg.subjects = 3;
  cfg.seed = seed;
  cfg.sequences_per_subject = 4;
  cfg.min_frames = 3;
  cfg.max_frames = 5;
  return cfg;
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  EXPECT_TRUE(f.good()) << "cannot open " << p;
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::vector<std::string> out;
  std::istringstream s(read_all(p));
  for (std::string line; std::getline(s, line);) out.push_back(line);
  return out;
}

// Parses a CK+ e-notation line ("   3.0000000e+00   1.2345678e+02"), checking its exact format.
std::vector<double> parse_e_line(const std::string& line, const fs::path& file) {
  static const std::regex kValue(R"(   (-?[0-9]\.[0-9]{7}e[+-][0-9]{2}))");
  std::vector<double> values;
  std::size_t consumed = 0;
  for (auto it = std::sregex_iterator(line.begin(), line.end(), kValue);
       it != std::sregex_iterator(); ++it) {
    EXPECT_EQ(static_cast<std::size_t>(it->position()), consumed) << file << ": '" << line << "'";
    consumed = it->position() + it->length();
    values.push_back(std::stod((*it)[1].str()));
  }
  EXPECT_EQ(consumed, line.size()) << file << ": trailing text in '" << line << "'";
  return values;
}

struct BoxLine {
  int au, x0, y0, x1, y1;
};

std::vector<BoxLine> read_regions(const fs::path& p) {
  std::vector<BoxLine> out;
  for (const auto& line : lines_of(p)) {
    std::istringstream s(line);
    BoxLine b{};
    EXPECT_TRUE(static_cast<bool>(s >> b.au >> b.x0 >> b.y0 >> b.x1 >> b.y1))
        << p << ": bad line '" << line << "'";
    std::string rest;
    EXPECT_FALSE(static_cast<bool>(s >> rest)) << p << ": trailing text in '" << line << "'";
    out.push_back(b);
  }
  return out;
}

// Fraction of Σ|a − b| that lies inside `mask` (CV_8U, non-zero inside); total mass returned too.
double mass_inside(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask, double* total) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  *total = cv::sum(diff)[0];
  const double inside = cv::sum(diff & mask)[0];
  return *total > 0 ? inside / *total : 0.0;
}

bool is_au(int au) {
  return std::find(kSynthAus.begin(), kSynthAus.end(), au) != kSynthAus.end();
}

TEST_F(SynthTest, TinySetHasTheCkPlusLayoutAndFormats) {
  const std::uint64_t seed = testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  const SynthConfig cfg = tiny_config(seed);
  const fs::path root = dir_ / "synth";
  const SynthSummary summary = generate_synthetic(cfg, root);
  EXPECT_EQ(summary.subjects, 3);
  EXPECT_EQ(summary.sequences, 12);
  EXPECT_FALSE(fs::exists(dir_ / "synth.partial"));
  ASSERT_TRUE(fs::exists(root / "README.txt"));
  EXPECT_NE(read_all(root / "README.txt").find("seed: " + std::to_string(seed)), std::string::npos);

  int frames = 0, sequences = 0, emotion_files = 0;
  std::map<int, int> au_sequences;
  const std::regex kSubject("S[0-9]{3}"), kSequence("[0-9]{3}");
  for (const auto& subject_dir : fs::directory_iterator(root / "cohn-kanade-images")) {
    const std::string subject = subject_dir.path().filename().string();
    ASSERT_TRUE(std::regex_match(subject, kSubject)) << subject;
    for (const auto& seq_dir : fs::directory_iterator(subject_dir.path())) {
      const std::string seq = seq_dir.path().filename().string();
      ASSERT_TRUE(std::regex_match(seq, kSequence)) << seq;
      ++sequences;
      const fs::path rel = fs::path(subject) / seq;
      const int n = static_cast<int>(std::distance(fs::directory_iterator(seq_dir.path()), {}));
      ASSERT_GE(n, cfg.min_frames) << rel;
      ASSERT_LE(n, cfg.max_frames) << rel;
      frames += n;
      auto name = [&](int f) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s_%s_%08d", subject.c_str(), seq.c_str(), f);
        return std::string(buf);
      };
      for (int f = 1; f <= n; ++f) {
        const fs::path png = root / "cohn-kanade-images" / rel / (name(f) + ".png");
        const cv::Mat image = cv::imread(png.string(), cv::IMREAD_UNCHANGED);
        ASSERT_FALSE(image.empty()) << png;
        EXPECT_EQ(image.type(), CV_8UC1) << png;
        EXPECT_EQ(image.cols, 640) << png;
        EXPECT_EQ(image.rows, 490) << png;

        const fs::path lm = root / "Landmarks" / rel / (name(f) + "_landmarks.txt");
        const auto lines = lines_of(lm);
        ASSERT_EQ(lines.size(), 68u) << lm;
        for (const auto& line : lines) {
          const auto v = parse_e_line(line, lm);
          ASSERT_EQ(v.size(), 2u) << lm;
          EXPECT_TRUE(v[0] >= 0 && v[0] < 640 && v[1] >= 0 && v[1] < 490) << lm << ": " << line;
        }

        const auto boxes = read_regions(root / "Regions" / rel / (name(f) + "_regions.txt"));
        if (f == 1) EXPECT_TRUE(boxes.empty()) << rel << ": the neutral frame has active AUs";
        for (const auto& b : boxes) {
          EXPECT_TRUE(is_au(b.au)) << rel << " frame " << f << ": AU " << b.au;
          EXPECT_TRUE(0 <= b.x0 && b.x0 < b.x1 && b.x1 <= 640 && 0 <= b.y0 && b.y0 < b.y1 &&
                      b.y1 <= 490)
              << rel << " frame " << f << ": box " << b.x0 << " " << b.y0 << " " << b.x1 << " "
              << b.y1;
        }
      }
      // Labels belong to the peak (last) frame only.
      const auto facs_files = std::distance(fs::directory_iterator(root / "FACS" / rel), {});
      ASSERT_EQ(facs_files, 1) << rel;
      const fs::path facs = root / "FACS" / rel / (name(n) + "_facs.txt");
      ASSERT_TRUE(fs::exists(facs)) << facs;
      std::set<int> facs_aus;
      for (const auto& line : lines_of(facs)) {
        const auto v = parse_e_line(line, facs);
        ASSERT_EQ(v.size(), 2u) << facs;
        const int au = static_cast<int>(v[0]);
        EXPECT_EQ(v[0], au) << facs;
        EXPECT_TRUE(is_au(au)) << facs << ": AU " << au;
        EXPECT_TRUE(v[1] == 0 || v[1] == 1 || v[1] == 2 || v[1] == 3 || v[1] == 4 || v[1] == 5)
            << facs << ": intensity " << v[1];
        facs_aus.insert(au);
        ++au_sequences[au];
      }
      EXPECT_FALSE(facs_aus.empty()) << facs;
      std::set<int> peak_aus;
      for (const auto& b : read_regions(root / "Regions" / rel / (name(n) + "_regions.txt")))
        peak_aus.insert(b.au);
      EXPECT_EQ(peak_aus, facs_aus) << rel << ": the peak frame's regions and FACS AUs differ";

      const fs::path emotion_dir = root / "Emotion" / rel;
      if (fs::exists(emotion_dir)) {
        const auto count = std::distance(fs::directory_iterator(emotion_dir), {});
        ASSERT_LE(count, 1) << emotion_dir;
        if (count == 1) {
          const fs::path emo = emotion_dir / (name(n) + "_emotion.txt");
          ASSERT_TRUE(fs::exists(emo)) << emo;
          const auto lines = lines_of(emo);
          ASSERT_EQ(lines.size(), 1u) << emo;
          const auto v = parse_e_line(lines[0], emo);
          ASSERT_EQ(v.size(), 1u) << emo;
          EXPECT_TRUE(v[0] >= 1 && v[0] <= 7 && v[0] == static_cast<int>(v[0])) << emo;
          ++emotion_files;
        }
      }
    }
  }
  EXPECT_EQ(sequences, summary.sequences);
  EXPECT_EQ(frames, summary.frames);
  int summary_emotions = 0;
  for (int c : summary.emotion_sequences) summary_emotions += c;
  EXPECT_EQ(emotion_files, summary_emotions);
  EXPECT_EQ(au_sequences, summary.au_sequences);
}

TEST_F(SynthTest, SameSeedSameBytesOtherSeedOtherImages) {
  const std::uint64_t seed = testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  SynthConfig cfg = tiny_config(seed);
  cfg.subjects = 2;
  cfg.sequences_per_subject = 2;
  generate_synthetic(cfg, dir_ / "a");
  generate_synthetic(cfg, dir_ / "b");
  cfg.seed = seed + 1;
  generate_synthetic(cfg, dir_ / "c");
  int compared = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "a")) {
    if (!entry.is_regular_file()) continue;
    const fs::path rel = fs::relative(entry.path(), dir_ / "a");
    ASSERT_TRUE(fs::exists(dir_ / "b" / rel)) << rel;
    ASSERT_EQ(read_all(entry.path()), read_all(dir_ / "b" / rel)) << rel << " differs";
    ++compared;
  }
  EXPECT_EQ(compared,
            static_cast<int>(std::distance(fs::recursive_directory_iterator(dir_ / "b"), {})) -
                static_cast<int>(
                    std::count_if(fs::recursive_directory_iterator(dir_ / "b"), {},
                                  [](const fs::directory_entry& e) { return e.is_directory(); })));
  const fs::path first = fs::path("cohn-kanade-images") / "S005" / "001" / "S005_001_00000001.png";
  EXPECT_NE(read_all(dir_ / "a" / first), read_all(dir_ / "c" / first))
      << "another seed drew the same first frame";
}

// The same bytes whatever vector units the CPU has: `aulens synth` run as it is, and run with
// OpenCV's AVX2 and AVX-512 code and glibc's FMA/AVX2 maths functions switched off (what a CPU
// without them would run), writes identical files (on a CPU with AVX2; without it, skipped). With
// OpenCV's float blur and resize the synthetic renderer failed this on an AVX2 machine: about a
// quarter of the frames differed.
TEST_F(SynthTest, SameBytesWhateverTheVectorUnits) {
  if (!cv::checkHardwareSupport(CV_CPU_AVX2))
    GTEST_SKIP() << "this CPU has no AVX2: switching it off would change nothing";
  const std::uint64_t seed = testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  const auto synth = [&](const std::string& env, const char* out) {
    return env + AULENS_BINARY + " synth --subjects 2 --sequences-per-subject 3 --min-frames 3 " +
           "--max-frames 5 --seed " + std::to_string(seed) + " --out " + (dir_ / out).string() +
           " > " + (dir_ / out).string() + ".log 2>&1";
  };
  ASSERT_EQ(std::system(synth("", "plain").c_str()), 0) << read_all(dir_ / "plain.log");
  ASSERT_EQ(std::system(synth("OPENCV_CPU_DISABLE=AVX512-SKX,AVX2,FMA3,AVX "
                              "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F,-AVX2,-FMA ",
                              "narrow")
                            .c_str()),
            0)
      << read_all(dir_ / "narrow.log");
  // OpenCV names a feature it does not know and otherwise carries on with it switched on.
  EXPECT_EQ(read_all(dir_ / "narrow.log").find("unknown CPU feature"), std::string::npos)
      << read_all(dir_ / "narrow.log");
  const auto files = [](const fs::path& root) {
    std::vector<fs::path> out;
    for (const auto& entry : fs::recursive_directory_iterator(root))
      if (entry.is_regular_file()) out.push_back(fs::relative(entry.path(), root));
    std::sort(out.begin(), out.end());
    return out;
  };
  const std::vector<fs::path> plain = files(dir_ / "plain");
  ASSERT_EQ(plain, files(dir_ / "narrow"));
  ASSERT_GT(plain.size(), 20u);
  std::vector<fs::path> differing;
  for (const fs::path& rel : plain)
    if (read_all(dir_ / "plain" / rel) != read_all(dir_ / "narrow" / rel)) differing.push_back(rel);
  EXPECT_TRUE(differing.empty()) << differing.size() << " of " << plain.size()
                                 << " files differ, the first " << differing.front();
}

// The renderer's own float filters (data/synth_filter.h) are OpenCV's GaussianBlur and cubic
// resize, up to float rounding: the same kernel sizes and weights, borders and cubic weights, on
// random images, the synthetic renderer's shapes and ones smaller than the kernel.
TEST(SynthFilters, BlurAndCubicResizeAreOpenCvs) {
  const std::uint64_t seed = testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  cv::RNG rng(seed);
  const auto random_image = [&](int rows, int cols) {
    cv::Mat m(rows, cols, CV_32FC1);
    rng.fill(m, cv::RNG::UNIFORM, -100.0, 100.0);
    return m;
  };
  const auto close = [](const cv::Mat& ours, const cv::Mat& theirs) {
    if (ours.size() != theirs.size()) return std::string("sizes differ");
    double worst = 0;
    cv::minMaxLoc(cv::abs(ours - theirs), nullptr, &worst);
    return worst <= 1e-4 ? std::string() : "worst difference " + std::to_string(worst);
  };
  struct Blur {
    int rows, cols, ksize;
    double sigma;
  };
  for (const Blur& b : {Blur{490, 640, 3, 0.7}, Blur{37, 23, 0, 0.8}, Blur{40, 61, 0, 2.6},
                        Blur{9, 12, 0, 3.1}, Blur{1, 7, 0, 1.0}, Blur{2, 3, 0, 1.5}}) {
    const cv::Mat in = random_image(b.rows, b.cols);
    cv::Mat theirs;
    cv::GaussianBlur(in, theirs, cv::Size(b.ksize, b.ksize), b.sigma, b.sigma,
                     cv::BORDER_REFLECT_101);
    cv::Mat ours = in.clone();
    synth::gaussian_blur(ours, b.ksize, b.sigma);
    EXPECT_EQ(close(ours, theirs), "")
        << "blur " << b.rows << "x" << b.cols << " ksize " << b.ksize << " sigma " << b.sigma;
  }
  struct Resize {
    int rows, cols, out_rows, out_cols;
  };
  for (const Resize& r : {Resize{12, 16, 490, 640}, Resize{60, 80, 490, 640}, Resize{7, 5, 31, 18},
                          Resize{1, 3, 4, 9}}) {
    const cv::Mat in = random_image(r.rows, r.cols);
    cv::Mat theirs;
    cv::resize(in, theirs, cv::Size(r.out_cols, r.out_rows), 0, 0, cv::INTER_CUBIC);
    EXPECT_EQ(close(synth::resize_cubic(in, cv::Size(r.out_cols, r.out_rows)), theirs), "")
        << "resize " << r.rows << "x" << r.cols << " to " << r.out_rows << "x" << r.out_cols;
  }
}

TEST_F(SynthTest, ReplacesOnlyEarlierSyntheticSets) {
  const std::uint64_t seed = testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  SynthConfig cfg = tiny_config(seed);
  cfg.subjects = 1;
  cfg.sequences_per_subject = 1;
  generate_synthetic(cfg, dir_ / "set");
  EXPECT_NO_THROW(generate_synthetic(cfg, dir_ / "set"));  // an earlier synthetic set
  fs::create_directories(dir_ / "precious");
  std::ofstream(dir_ / "precious" / "thesis.tex") << "do not delete";
  EXPECT_THROW(generate_synthetic(cfg, dir_ / "precious"), Error);
  EXPECT_TRUE(fs::exists(dir_ / "precious" / "thesis.tex"));
  cfg.min_frames = 1;
  EXPECT_THROW(generate_synthetic(cfg, dir_ / "bad"), Error);
  cfg.min_frames = 5;
  cfg.max_frames = 4;
  EXPECT_THROW(generate_synthetic(cfg, dir_ / "bad"), Error);
}

// Each AU alone at full intensity, for several subjects and poses: the change lies inside its
// recorded box, and it is large enough to survive the 99×99 face crop.
TEST(SynthAus, EachAuChangesMostlyItsOwnRegion) {
  const std::uint64_t seed = testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  for (int subject = 0; subject < 3; ++subject) {
    const synth::Identity id = synth::draw_identity(seed, subject);
    const synth::Shape neutral = synth::neutral_shape(id);
    synth::Random r(seed + 99 + subject);
    const synth::Pose pose{{320.f + r.uniform(-20, 20), 212.f + r.uniform(-10, 10)},
                           id.scale,
                           r.uniform(-0.07f, 0.07f)};
    const synth::SequenceLook look = synth::make_look(id, pose, seed + subject);
    const cv::Mat neutral_image =
        synth::render_face(id, neutral, synth::express(id, neutral, {}), pose, look);
    std::vector<synth::AuActivation> cases;
    for (int au : kSynthAus) cases.push_back({au, 1.f, 0});
    cases.push_back({14, 1.f, -1});
    cases.push_back({14, 1.f, 1});
    for (const auto& a : cases) {
      const synth::Expression expr = synth::express(id, neutral, {a});
      const cv::Mat peak = synth::render_face(id, neutral, expr, pose, look);
      const cv::Rect box = synth::au_region(a, neutral, expr, pose);
      ASSERT_FALSE(box.empty()) << "AU " << a.au;
      // A box is a region, not the whole face: at most a quarter of the frame.
      EXPECT_LE(box.area(), peak.total() / 4) << "AU " << a.au << ": box " << box;
      cv::Mat mask = cv::Mat::zeros(peak.size(), CV_8U);
      mask(box).setTo(255);
      double total = 0;
      const double inside = mass_inside(peak, neutral_image, mask, &total);
      EXPECT_GE(inside, 0.7) << "subject " << subject << " AU " << a.au << " side " << a.side
                             << ": only " << inside << " of the change inside its box";
      // Visible at the crop scale: shrink like the 99×99 crop (~0.38×) and look at the change.
      cv::Mat small_peak, small_neutral, diff;
      cv::resize(peak, small_peak, cv::Size(), 0.38, 0.38, cv::INTER_AREA);
      cv::resize(neutral_image, small_neutral, cv::Size(), 0.38, 0.38, cv::INTER_AREA);
      cv::absdiff(small_peak, small_neutral, diff);
      double max_change = 0;
      cv::minMaxLoc(diff, nullptr, &max_change);
      const int changed = cv::countNonZero(diff > 8);
      EXPECT_GE(max_change, 25) << "subject " << subject << " AU " << a.au
                                << ": too faint at crop scale";
      EXPECT_GE(changed, 12) << "subject " << subject << " AU " << a.au
                             << ": too few crop pixels change by more than 8 grey levels";
    }
  }
}

// In every sequence of a written set, peak − first frame lies inside the peak's region boxes.
TEST_F(SynthTest, SequenceChangeLiesInsideRecordedRegions) {
  const std::uint64_t seed = testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  const fs::path root = dir_ / "synth";
  generate_synthetic(tiny_config(seed), root);
  int checked = 0;
  for (const auto& facs_seq : fs::recursive_directory_iterator(root / "FACS")) {
    if (!facs_seq.is_regular_file()) continue;
    const std::string peak_name =
        facs_seq.path().filename().string();  // S005_001_0000000N_facs.txt
    const std::string stem =
        peak_name.substr(0, peak_name.size() - std::string("_facs.txt").size());
    const fs::path rel = fs::relative(facs_seq.path().parent_path(), root / "FACS");
    const std::string first_stem = stem.substr(0, stem.size() - 8) + "00000001";
    const cv::Mat first = cv::imread(
        (root / "cohn-kanade-images" / rel / (first_stem + ".png")).string(), cv::IMREAD_UNCHANGED);
    const cv::Mat peak = cv::imread((root / "cohn-kanade-images" / rel / (stem + ".png")).string(),
                                    cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(first.empty() || peak.empty()) << rel;
    cv::Mat mask = cv::Mat::zeros(peak.size(), CV_8U);
    for (const auto& b : read_regions(root / "Regions" / rel / (stem + "_regions.txt")))
      mask(cv::Rect(cv::Point(b.x0, b.y0), cv::Point(b.x1, b.y1))).setTo(255);
    double total = 0;
    const double inside = mass_inside(peak, first, mask, &total);
    EXPECT_GT(total, 0) << rel << ": the peak frame equals the neutral one";
    EXPECT_GE(inside, 0.7) << rel << ": only " << inside << " of the change inside the boxes";
    ++checked;
  }
  EXPECT_EQ(checked, 12);
}

}  // namespace
}  // namespace aulens

#else

TEST(Synth, NeedsOpenCv) {
  GTEST_SKIP() << "aulens was built without OpenCV; synth not built";
}

#endif
