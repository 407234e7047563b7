// The CK+ and manifest readers on small trees written by hand in a temp folder, in CK+'s own
// formats (e-notation with leading blanks; colour and grey; 640×490 and 640×480; an empty Emotion
// folder; a sequence without one): labels and AU frames for both `frames` rules, each kind of
// broken file reported with its file and line and skipped (strict: thrown), crops that contain
// all 68 landmarks and show a marked landmark where the transformed landmark says, a crop box that
// is the landmark box plus the margin, centred, AU regions in crop coordinates, and the manifest's
// happy path (landmark columns on their own axes) and column errors.
#include <gtest/gtest.h>

#ifdef AULENS_HAVE_OPENCV
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "aulens/check.h"
#include "aulens/dataset.h"
#include "data/dataset_build.h"

namespace fs = std::filesystem;
using namespace aulens;

namespace {

std::string enote(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "   %.7e", v);
  return buf;
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

struct SequenceSpec {
  std::string subject, sequence;
  int frames;
  bool colour;
  int height;   // 490 or 480
  int emotion;  // −1: no Emotion folder; −2: empty Emotion folder
  std::vector<std::pair<int, double>> facs;
  bool regions = false;
};

// Landmarks of frame f: random points in a face-sized box, landmark 30 (nose tip) at the centre.
std::vector<float> landmarks_for(std::mt19937& rng, int height) {
  std::uniform_real_distribution<float> x(220.0f, 430.0f), y(120.0f, height - 130.0f);
  std::vector<float> p(2 * kLandmarkCount);
  for (int k = 0; k < kLandmarkCount; ++k) {
    p[2 * k] = x(rng);
    p[2 * k + 1] = y(rng);
  }
  p[60] = 325.0f;
  p[61] = 0.5f * height;
  return p;
}

class CkTree {
 public:
  CkTree() {
    root_ = fs::temp_directory_path() /
            ("aulens_ck_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(root_);
  }
  ~CkTree() { fs::remove_all(root_); }
  const fs::path& root() const { return root_; }
  std::string stem(const SequenceSpec& s, int f) const {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s_%s_%08d", s.subject.c_str(), s.sequence.c_str(), f + 1);
    return buf;
  }
  fs::path rel(const SequenceSpec& s) const { return fs::path(s.subject) / s.sequence; }
  fs::path image(const SequenceSpec& s, int f) const {
    return root_ / "cohn-kanade-images" / rel(s) / (stem(s, f) + ".png");
  }
  fs::path landmark_file(const SequenceSpec& s, int f) const {
    return root_ / "Landmarks" / rel(s) / (stem(s, f) + "_landmarks.txt");
  }
  fs::path facs_file(const SequenceSpec& s) const {
    return root_ / "FACS" / rel(s) / (stem(s, s.frames - 1) + "_facs.txt");
  }
  fs::path emotion_file(const SequenceSpec& s) const {
    return root_ / "Emotion" / rel(s) / (stem(s, s.frames - 1) + "_emotion.txt");
  }

  void add(const SequenceSpec& s) {
    std::mt19937 rng(static_cast<unsigned>(s.frames * 131 + s.height + s.subject.size() +
                                           std::stoi(s.sequence)));
    fs::create_directories(image(s, 0).parent_path());
    for (int f = 0; f < s.frames; ++f) {
      const auto p = landmarks_for(rng, s.height);
      cv::Mat grey(s.height, 640, CV_8UC1);
      cv::randu(grey, 0, 60);
      cv::circle(grey, cv::Point(325, s.height / 2), 7, cv::Scalar(255),
                 cv::FILLED);  // marks landmark 30
      cv::Mat out = grey;
      if (s.colour) cv::cvtColor(grey, out, cv::COLOR_GRAY2BGR);
      ASSERT_TRUE(cv::imwrite(image(s, f).string(), out));
      std::string text;
      for (int k = 0; k < kLandmarkCount; ++k) text += enote(p[2 * k]) + enote(p[2 * k + 1]) + "\n";
      write_text(landmark_file(s, f), text);
      if (s.regions) {
        write_text(root_ / "Regions" / rel(s) / (stem(s, f) + "_regions.txt"),
                   "12 300 " + std::to_string(s.height / 2 - 20) + " 350 " +
                       std::to_string(s.height / 2 + 20) + "\n");
      }
    }
    std::string facs;
    for (auto [au, intensity] : s.facs) facs += enote(au) + enote(intensity) + "\n";
    if (!s.facs.empty()) write_text(facs_file(s), facs);
    if (s.emotion >= 0) write_text(emotion_file(s), enote(s.emotion) + "\n");
    if (s.emotion == -2) fs::create_directories(root_ / "Emotion" / rel(s));
    specs_.push_back(s);
  }
  const std::vector<SequenceSpec>& specs() const { return specs_; }

 private:
  static inline int counter_ = 0;
  fs::path root_;
  std::vector<SequenceSpec> specs_;
};

// The standard tree: 18 frames in 4 sequences, 2 subjects.
void fill_standard(CkTree& tree) {
  tree.add({"S005", "001", 5, true, 490, 3, {{9, 2.0}, {17, 0.0}}});   // disgust, AU17 not coded
  tree.add({"S005", "002", 4, false, 480, -2, {{1, 3.0}, {2, 3.0}}});  // empty Emotion folder
  tree.add({"S010", "001", 6, false, 490, -1, {{4, 1.0}}});            // no Emotion folder
  tree.add({"S010", "002", 3, true, 480, 5, {{6, 4.0}, {12, 5.0}}, true});  // happy, regions
}

DatasetConfig config(const std::string& frames = "all_but_first") {
  DatasetConfig cfg;
  cfg.source = "ckplus";
  cfg.frames = frames;
  return cfg;
}

float au_value(const Dataset& d, std::int64_t i, int au) {
  const auto it = std::find(d.au_ids.begin(), d.au_ids.end(), au);
  if (it == d.au_ids.end()) return 0.0f;
  return d.aus
      .data<float>()[i * static_cast<std::int64_t>(d.au_ids.size()) + (it - d.au_ids.begin())];
}

std::vector<int> labels_of(const Dataset& d) {
  return std::vector<int>(d.labels.data<std::int32_t>(), d.labels.data<std::int32_t>() + d.size());
}

bool has_issue(const Dataset& d, const fs::path& file, int line, const std::string& words,
               const std::string& skipped) {
  for (const auto& issue : d.issues)
    if (issue.file == file.string() && issue.line == line &&
        issue.problem.find(words) != std::string::npos && issue.skipped == skipped)
      return true;
  return false;
}

std::string all_issues(const Dataset& d) {
  std::string text;
  for (const auto& issue : d.issues) text += issue.describe() + "\n";
  return text;
}

}  // namespace

TEST(CkPlusReader, LabelsAndAuFramesAllButFirst) {
  CkTree tree;
  fill_standard(tree);
  const Dataset d = read_ckplus(tree.root(), config());
  ASSERT_EQ(d.size(), 18) << all_issues(d);
  EXPECT_TRUE(d.issues.empty()) << all_issues(d);
  EXPECT_EQ(d.au_ids, (std::vector<std::int32_t>{1, 2, 4, 6, 9, 12, 17}));
  EXPECT_EQ(d.subject_names, (std::vector<std::string>{"S005", "S010"}));
  const int n = kNoLabel;
  EXPECT_EQ(labels_of(d), (std::vector<int>{n, 2, 2, 2, 2, n, n, n, n, n, n, n, n, n, n, n, 4, 4}));
  // First frames carry no AU; the others carry the sequence's AUs.
  for (std::int64_t i : {0, 5, 9, 15})
    for (int au : d.au_ids)
      EXPECT_EQ(au_value(d, i, au), 0.0f) << "first frame " << i << " AU" << au;
  for (std::int64_t i = 1; i < 5; ++i) {
    EXPECT_EQ(au_value(d, i, 9), 2.0f);
    EXPECT_EQ(au_value(d, i, 17), kAuIntensityNotCoded) << "intensity 0 = present, not coded";
    EXPECT_TRUE(au_present(au_value(d, i, 17)));
    EXPECT_FALSE(au_intensity_known(au_value(d, i, 17)));
    EXPECT_EQ(au_value(d, i, 12), 0.0f);
  }
  for (std::int64_t i = 6; i < 9; ++i) EXPECT_EQ(au_value(d, i, 1), 3.0f);  // no emotion, AUs kept
  for (std::int64_t i = 10; i < 15; ++i) EXPECT_EQ(au_value(d, i, 4), 1.0f);
  EXPECT_EQ(au_value(d, 17, 12), 5.0f);
  EXPECT_EQ(d.subject.data<std::int32_t>()[17], 1);
  EXPECT_EQ(d.sequence.data<std::int32_t>()[17], 2);
  EXPECT_EQ(d.frame.data<std::int32_t>()[17], 3);
  EXPECT_EQ(d.source_paths[1], "cohn-kanade-images/S005/001/S005_001_00000002.png");
  EXPECT_EQ(d.counts.sequences, 4);
  EXPECT_EQ(d.counts.sequences_with_emotion, 2);
  EXPECT_EQ(d.counts.images_with_regions, 3);
}

// A text file saved with a UTF-8 byte order mark (as some Windows editors do) reads as without.
TEST(CkPlusReader, TextFilesMayStartWithAByteOrderMark) {
  CkTree tree;
  fill_standard(tree);
  const Dataset plain = read_ckplus(tree.root(), config());
  for (const fs::path& file : {tree.emotion_file(tree.specs()[0]), tree.facs_file(tree.specs()[0]),
                               tree.landmark_file(tree.specs()[1], 1)}) {
    std::ifstream in(file, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    in.close();
    write_text(file, "\xEF\xBB\xBF" + text);
  }
  const Dataset marked = read_ckplus(tree.root(), config());
  EXPECT_TRUE(marked.issues.empty()) << all_issues(marked);
  ASSERT_EQ(marked.size(), plain.size());
  EXPECT_EQ(labels_of(marked), labels_of(plain));
  EXPECT_EQ(0, std::memcmp(marked.landmarks.data<float>(), plain.landmarks.data<float>(),
                           plain.landmarks.nbytes()));
  EXPECT_EQ(0, std::memcmp(marked.aus.data<float>(), plain.aus.data<float>(), plain.aus.nbytes()));
}

TEST(CkPlusReader, LabelsAndAuFramesLastThreeAndNeutralClass) {
  CkTree tree;
  fill_standard(tree);
  DatasetConfig cfg = config("last_3");
  cfg.neutral_class = true;
  const Dataset d = read_ckplus(tree.root(), cfg);
  ASSERT_EQ(d.size(), 15) << all_issues(d);
  EXPECT_EQ(d.counts.frames_unused, 3);
  EXPECT_EQ(d.class_names.size(), 8u);
  EXPECT_EQ(d.class_names[7], "neutral");
  const int n = kNoLabel;
  EXPECT_EQ(labels_of(d), (std::vector<int>{7, 2, 2, 2, 7, n, n, n, 7, n, n, n, 7, 4, 4}));
  std::vector<int> frames(d.frame.data<std::int32_t>(), d.frame.data<std::int32_t>() + d.size());
  EXPECT_EQ(frames, (std::vector<int>{1, 3, 4, 5, 1, 2, 3, 4, 1, 4, 5, 6, 1, 2, 3}));
  EXPECT_EQ(au_value(d, 8, 4), 0.0f);
  EXPECT_EQ(au_value(d, 9, 4), 1.0f);
}

TEST(CkPlusReader, CropsContainAllLandmarksAndShowTheMarkedOne) {
  CkTree tree;
  fill_standard(tree);
  const Dataset d = read_ckplus(tree.root(), config());
  const int s = d.crop_size;
  ASSERT_EQ(s, 99);
  ASSERT_EQ(d.crops.shape(), (Shape{d.size(), 99, 99}));
  const float* lm = d.landmarks.data<float>();
  float worst_margin = 1e9f;
  for (std::int64_t i = 0; i < d.size(); ++i) {
    for (int k = 0; k < kLandmarkCount; ++k) {
      const float x = lm[(i * kLandmarkCount + k) * 2], y = lm[(i * kLandmarkCount + k) * 2 + 1];
      ASSERT_TRUE(x >= 0 && x < s && y >= 0 && y < s)
          << "image " << i << " landmark " << k << " at (" << x << ", " << y << ")";
      worst_margin = std::min({worst_margin, x, y, s - x, s - y});
    }
    // The bright disc drawn at landmark 30 is where the transformed landmark 30 points.
    const int x = static_cast<int>(std::lround(lm[(i * kLandmarkCount + 30) * 2]));
    const int y = static_cast<int>(std::lround(lm[(i * kLandmarkCount + 30) * 2 + 1]));
    EXPECT_GT(d.crops.data<std::uint8_t>()[(i * s + y) * s + x], 180) << "image " << i;
  }
  EXPECT_GT(worst_margin, 0.0f);
  // Regions (AU12 box around the same disc) map to crop coordinates too; absent AUs stay −1.
  const std::int64_t a = static_cast<std::int64_t>(d.au_ids.size());
  const std::int64_t j12 = std::find(d.au_ids.begin(), d.au_ids.end(), 12) - d.au_ids.begin();
  for (std::int64_t i = 15; i < 18; ++i) {
    const float* box = d.au_regions.data<float>() + (i * a + j12) * 4;
    const float x = lm[(i * kLandmarkCount + 30) * 2], y = lm[(i * kLandmarkCount + 30) * 2 + 1];
    EXPECT_TRUE(box[0] < x && x < box[2] && box[1] < y && y < box[3]) << "image " << i;
    EXPECT_NEAR(box[2] - box[0], 50.0f * (box[3] - box[1]) / 40.0f, 1e-3f);
    // Exclusive-end image box [300, 350) is centred on pixel edge 325, landmark 30 (x = 325) is
    // a pixel-centre coordinate: edge 325.5. In the crop (scale k) they differ by k/2, and the
    // landmark's edge coordinate is its pixel-centre coordinate + 0.5.
    const float k = (box[2] - box[0]) / 50.0f;
    EXPECT_NEAR(0.5f * (box[0] + box[2]), x + 0.5f - 0.5f * k, 1e-3f) << "image " << i;
    EXPECT_NEAR(0.5f * (box[1] + box[3]), y + 0.5f - 0.5f * k, 1e-3f) << "image " << i;
  }
  EXPECT_EQ(d.au_regions.data<float>()[(0 * a + j12) * 4], kNoRegion);
}

// DESIGN §1.3: the crop is the square around the landmark box, with `crop_margin` of the box added
// on each side of its longer axis. So in the S×S crop the landmarks of the longer axis span
// S/(1 + 2m), less the slack of about 2 crop pixels that keeps them strictly inside, and the box is
// centred.
TEST(CkPlusReader, CropBoxIsTheLandmarkBoxPlusTheMarginCentred) {
  CkTree tree;
  fill_standard(tree);
  for (const float margin : {0.0f, 0.1f, 0.3f}) {
    DatasetConfig cfg = config();
    cfg.crop_margin = margin;
    const Dataset d = read_ckplus(tree.root(), cfg);
    const double s = d.crop_size;
    const float* lm = d.landmarks.data<float>();
    for (std::int64_t i = 0; i < d.size(); ++i) {
      const float* p = lm + i * kLandmarkCount * 2;
      float lo[2] = {p[0], p[1]}, hi[2] = {p[0], p[1]};
      for (int k = 0; k < kLandmarkCount; ++k) {
        for (int axis = 0; axis < 2; ++axis) {
          lo[axis] = std::min(lo[axis], p[2 * k + axis]);
          hi[axis] = std::max(hi[axis], p[2 * k + axis]);
        }
      }
      const int longer = hi[0] - lo[0] >= hi[1] - lo[1] ? 0 : 1;
      const double span = hi[longer] - lo[longer];
      const double expected = s / (1.0 + 2.0 * margin);
      EXPECT_LE(span, expected) << "margin " << margin << ", image " << i;
      EXPECT_GE(span, expected - 4.0) << "margin " << margin << ", image " << i;
      for (int axis = 0; axis < 2; ++axis) {
        EXPECT_NEAR(0.5 * (lo[axis] + hi[axis]), 0.5 * s, 1.5)
            << "margin " << margin << ", image " << i << ", axis " << axis;
      }
    }
  }
}

TEST(CkPlusReader, BrokenFilesAreReportedWithFileAndLineAndSkipped) {
  struct Case {
    std::string name;
    std::function<fs::path(CkTree&)> breaker;  // returns the file it broke
    int line;
    std::string words, skipped;
    std::int64_t images_left;
  };
  const std::vector<Case> cases = {
      {"corrupt image",
       [](CkTree& t) {
         auto f = t.image(t.specs()[0], 2);
         write_text(f, "not a png at all");
         return f;
       },
       0, "cannot read or decode", "image", 17},
      {"67 landmark points",
       [](CkTree& t) {
         auto f = t.landmark_file(t.specs()[1], 1);
         std::ifstream in(f);
         std::string all, line;
         for (int k = 0; k < 67 && std::getline(in, line); ++k) all += line + "\n";
         in.close();
         write_text(f, all);
         return f;
       },
       0, "expected 68 landmark points, found 67", "image", 17},
      {"landmark not a number",
       [](CkTree& t) {
         auto f = t.landmark_file(t.specs()[2], 3);
         std::ifstream in(f);
         std::string all, line;
         for (int k = 0; std::getline(in, line); ++k)
           all += (k == 4 ? "   3.1e+02   abc" : line) + "\n";
         in.close();
         write_text(f, all);
         return f;
       },
       5, "expected two numbers", "image", 17},
      {"landmark beyond float's range",
       [](CkTree& t) {
         auto f = t.landmark_file(t.specs()[2], 1);
         std::ifstream in(f);
         std::string all, line;
         for (int k = 0; std::getline(in, line); ++k)
           all += (k == 6 ? "   3.1e+02   1e+39" : line) + "\n";
         in.close();
         write_text(f, all);
         return f;
       },
       7, "expected two finite numbers", "image", 17},
      {"collapsed landmarks (the landmark file is named, not the image)",
       [](CkTree& t) {
         auto f = t.landmark_file(t.specs()[1], 2);
         std::string all;
         for (int k = 0; k < kLandmarkCount; ++k) all += enote(300.0) + enote(200.0) + "\n";
         write_text(f, all);
         return f;
       },
       0, "span 0 x 0 px", "image", 17},
      {"FACS line that does not parse",
       [](CkTree& t) {
         auto f = t.facs_file(t.specs()[0]);
         write_text(f, enote(9) + enote(2) + "\n" + enote(17) + "\n");
         return f;
       },
       2, "expected 'AU intensity'", "sequence", 13},
      {"emotion code out of range",
       [](CkTree& t) {
         auto f = t.emotion_file(t.specs()[3]);
         write_text(f, enote(9) + "\n");
         return f;
       },
       1, "out of range", "sequence", 15},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    CkTree tree;
    fill_standard(tree);
    const fs::path broken = c.breaker(tree);
    const Dataset d = read_ckplus(tree.root(), config());
    EXPECT_EQ(d.size(), c.images_left);
    ASSERT_EQ(d.issues.size(), 1u) << all_issues(d);
    EXPECT_TRUE(has_issue(d, broken, c.line, c.words, c.skipped)) << all_issues(d);
    const std::string summary = dataset_summary(d, Split{{}, {}, "none", false});
    EXPECT_NE(summary.find("skipped: 1 problem"), std::string::npos) << summary;
    EXPECT_NE(summary.find(broken.string()), std::string::npos) << summary;

    DatasetConfig strict = config();
    strict.strict = true;
    try {
      read_ckplus(tree.root(), strict);
      ADD_FAILURE() << "strict read did not throw";
    } catch (const Error& e) {
      const std::string where = broken.string() + (c.line > 0 ? ":" + std::to_string(c.line) : "");
      EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("skipped"), std::string::npos) << e.what();
    }
  }
}

TEST(CkPlusReader, EmptyOrMissingTreeIsAnError) {
  CkTree tree;
  EXPECT_THROW(read_ckplus(tree.root(), config()), Error);
  fs::create_directories(tree.root() / "cohn-kanade-images" / "S001" / "001");
  fs::create_directories(tree.root() / "Landmarks");
  fs::create_directories(tree.root() / "FACS");
  // The label archives not unpacked: named, not discovered later as a dataset without labels.
  try {
    read_ckplus(tree.root(), config());
    ADD_FAILURE() << "a tree without Emotion/ did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has cohn-kanade-images/ but no Emotion/"),
              std::string::npos)
        << e.what();
  }
  fs::create_directories(tree.root() / "Emotion");
  try {
    read_ckplus(tree.root(), config());
    ADD_FAILURE() << "empty dataset did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
  }
}

TEST(ManifestReader, HappyPathAndColumnErrors) {
  CkTree tree;  // only for its temp folder
  const fs::path dir = tree.root();
  fs::create_directories(dir / "img");
  cv::Mat face(120, 100, CV_8UC1);
  cv::randu(face, 0, 255);
  ASSERT_TRUE(cv::imwrite((dir / "img" / "a.png").string(), face));
  ASSERT_TRUE(cv::imwrite((dir / "img" / "c.png").string(), face));
  cv::Mat colour;
  cv::cvtColor(face, colour, cv::COLOR_GRAY2BGR);
  ASSERT_TRUE(cv::imwrite((dir / "img" / "b.jpg").string(), colour));

  // Without landmarks: whole image resized; expression by name or index; AU _c/_r semantics.
  write_text(dir / "m.csv",
             "path, subject, expression, AU01_c, AU01_r, AU12_c, AU12_r, AU25_r\n"
             "img/a.png, p1, Happy, 1, 2.5, 0, 1.0, 0\n"
             "img/b.jpg, p2, 6, 1, 0, 1, 3, 0.7\n"
             "img/c.png, p1, , 0, 0, 0, 0, 0\n"
             "img/a.png, p2, sadness, 1\n"
             "img/missing.png, p3, anger, 0, 0, 0, 0, 0\n"
             "img/e.png, p3, joy, 0, 0, 0, 0, 0\n"
             "./img/a.png, p3, happy, 0, 0, 0, 0, 0\n"
             "img/c.png, p3, happy, 2, 0, 0, 0, 0\n");
  const Dataset d = read_manifest(dir / "m.csv", config());
  ASSERT_EQ(d.size(), 3) << all_issues(d);
  EXPECT_EQ(labels_of(d), (std::vector<int>{4, 6, kNoLabel}));
  EXPECT_EQ(d.au_ids, (std::vector<std::int32_t>{1, 12, 25}));
  EXPECT_EQ(au_value(d, 0, 1), 2.5f);
  EXPECT_EQ(au_value(d, 0, 12), 0.0f);
  EXPECT_EQ(au_value(d, 1, 1), kAuIntensityNotCoded);
  EXPECT_EQ(au_value(d, 1, 12), 3.0f);
  EXPECT_NEAR(au_value(d, 1, 25), 0.7f, 1e-6f);
  EXPECT_EQ(d.subject_names, (std::vector<std::string>{"p1", "p2"}));
  EXPECT_TRUE(std::isnan(d.landmarks.data<float>()[0]));
  ASSERT_EQ(d.issues.size(), 5u) << all_issues(d);
  EXPECT_TRUE(has_issue(d, dir / "m.csv", 5, "row has 4 columns, the header has 8", "row"))
      << all_issues(d);
  EXPECT_TRUE(has_issue(d, dir / "m.csv", 6, "cannot read or decode", "row")) << all_issues(d);
  EXPECT_TRUE(has_issue(d, dir / "m.csv", 7, "'joy'", "row")) << all_issues(d);
  // One image, one row (the path spelt another way is the same image); presence is 0 or 1.
  EXPECT_TRUE(has_issue(d, dir / "m.csv", 8, "already listed on line 2", "row")) << all_issues(d);
  EXPECT_TRUE(has_issue(d, dir / "m.csv", 9, "AU01_c: presence must be 0 or 1, found '2'", "row"))
      << all_issues(d);
  // The crop of an image without landmarks is the whole image resized (compare with OpenCV).
  cv::Mat expected;
  cv::resize(face, expected, cv::Size(99, 99), 0, 0, cv::INTER_AREA);
  EXPECT_EQ(0, std::memcmp(expected.data, d.crops.data<std::uint8_t>(), 99 * 99));

  DatasetConfig strict = config();
  strict.strict = true;
  try {
    read_manifest(dir / "m.csv", strict);
    ADD_FAILURE() << "strict manifest read did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m.csv:5"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("skipped"), std::string::npos) << e.what();
  }
  // Strict stops at the first bad row of the file, an unreadable image before a bad field too.
  write_text(dir / "first.csv",
             "path,subject,expression\n"
             "img/a.png,p1,happy\n"
             "img/missing.png,p1,happy\n"
             "img/a.png,p2,joy\n");
  try {
    read_manifest(dir / "first.csv", strict);
    ADD_FAILURE() << "strict manifest read did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("first.csv:3: cannot read or decode"), std::string::npos)
        << e.what();
  }

  // With landmarks: cropped like CK+.
  std::string header = "path,subject,expression,AU04_c";
  std::string row = "img/a.png,s1,anger,1";
  for (int k = 0; k < kLandmarkCount; ++k) header += ",x_" + std::to_string(k);
  for (int k = 0; k < kLandmarkCount; ++k) header += ",y_" + std::to_string(k);
  for (int k = 0; k < kLandmarkCount; ++k) row += "," + std::to_string(30 + k % 40);
  for (int k = 0; k < kLandmarkCount; ++k) row += "," + std::to_string(40 + k % 50);
  // Landmarks all zero (a face the tracker lost), or one of them far off, crop no face.
  std::string collapsed = "img/c.png,s1,anger,1", far_off = "img/b.jpg,s1,anger,1";
  for (int k = 0; k < 2 * kLandmarkCount; ++k) collapsed += ",0";
  for (int k = 0; k < kLandmarkCount; ++k)
    far_off += k == 7 ? ",1e30" : "," + std::to_string(30 + k % 40);
  for (int k = 0; k < kLandmarkCount; ++k) far_off += "," + std::to_string(40 + k % 50);
  write_text(dir / "lm.csv", header + "\n" + row + "\n" + collapsed + "\n" + far_off + "\n");
  const Dataset with_landmarks = read_manifest(dir / "lm.csv", config());
  ASSERT_EQ(with_landmarks.size(), 1);
  EXPECT_TRUE(has_issue(with_landmarks, dir / "lm.csv", 3, "span 0 x 0 px", "row"))
      << all_issues(with_landmarks);
  EXPECT_TRUE(has_issue(with_landmarks, dir / "lm.csv", 4, "does not fit the 100x120 image", "row"))
      << all_issues(with_landmarks);
  for (int k = 0; k < 2 * kLandmarkCount; ++k) {
    const float v = with_landmarks.landmarks.data<float>()[k];
    EXPECT_TRUE(v >= 0 && v < 99) << k << ": " << v;
  }
  // x_k and y_k land on their own axes, scaled alike: the crop maps (x, y) to
  // ((x − left)·c, (y − top)·c) with one factor c, so offsets from landmark 0 keep their ratios.
  const float* cropped = with_landmarks.landmarks.data<float>();
  const double c = (cropped[2 * 49 + 1] - cropped[1]) / 49.0;  // y_49 − y_0 = 49 in the image
  EXPECT_LE(c, 99.0 / (49.0 * 1.2));  // the longer (y) span plus 2 × 10 %, and a few pixels of
  EXPECT_GE(c, 99.0 / (49.0 * 1.2 + 5.0));  // slack that keeps the extremes strictly inside
  for (int k = 0; k < kLandmarkCount; ++k) {
    EXPECT_NEAR(cropped[2 * k] - cropped[0], (k % 40) * c, 1e-3) << "x_" << k;
    EXPECT_NEAR(cropped[2 * k + 1] - cropped[1], (k % 50) * c, 1e-3) << "y_" << k;
  }

  // A folder is not a manifest (a CK+ tree given with the wrong source, say).
  try {
    read_manifest(dir / "img", config());
    ADD_FAILURE() << "a folder was read as a manifest";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is a folder, not a CSV file"), std::string::npos)
        << e.what();
  }
  // A header without a required column is an error naming the file and the column.
  write_text(dir / "bad.csv", "path,expression\nimg/a.png,happy\n");
  try {
    read_manifest(dir / "bad.csv", config());
    ADD_FAILURE() << "missing column did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:1: missing column 'subject'"), std::string::npos)
        << e.what();
  }
  // A column read twice would leave one of the two silently unused.
  for (const auto& [header, message] : std::vector<std::pair<std::string, std::string>>{
           {"path,subject,expression,subject", "column 'subject' appears twice (columns 2 and 4)"},
           {"path,subject,expression,AU01_c,AU1_c", "both give AU1_c"},
           // Nor may an AU column spelt otherwise be ignored as "another column".
           {"path,subject,expression,AU01_c,au02_c", "column 5 ('au02_c') looks like an AU column"},
           {"path,subject,expression,AU01c,AU02_r", "column 4 ('AU01c') looks like an AU column"},
           // AU numbers are 1-99 (an int cannot hold every run of digits).
           {"path,subject,expression,AU01_c,AU99999999999999999999_r",
            "column 5 ('AU99999999999999999999_r') names AU 99999999999999999999, outside 1-99"},
           {"path,subject,expression,AU00_c,AU02_r", "column 4 ('AU00_c') names AU 0, outside"}}) {
    write_text(dir / "twice.csv", header + "\nimg/a.png,s1,happy,1,1\n");
    try {
      read_manifest(dir / "twice.csv", config());
      ADD_FAILURE() << header << ": a repeated column did not throw";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("twice.csv:1: "), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
}

// libjpeg decodes a JPEG cut short without an error, its missing rows grey: the reader checks each
// PNG and JPEG for its end before decoding, so a truncated file is a reported bad item, not a face
// half grey. An EXIF thumbnail's end-of-image marker must not pass for the main image's.
TEST(DatasetImages, TruncatedPngAndJpegAreErrorsNotGreyRows) {
  CkTree tree;  // only for its temp folder
  const fs::path dir = tree.root();
  fs::create_directories(dir);
  cv::Mat face(120, 100, CV_8UC1);
  cv::randu(face, 0, 255);
  const auto encode = [](const std::string& ext, const cv::Mat& m) {
    std::vector<unsigned char> bytes;
    EXPECT_TRUE(cv::imencode(ext, m, bytes));
    return bytes;
  };
  const auto write = [&](const std::string& name, const std::vector<unsigned char>& bytes,
                         std::size_t keep) {
    std::ofstream(dir / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(keep));
    return dir / name;
  };
  const auto png = encode(".png", face), jpeg = encode(".jpg", face);
  // A JPEG with a 16×16 JPEG thumbnail in an APP1 (EXIF) segment right after its SOI marker.
  const auto thumb = encode(".jpg", cv::Mat(16, 16, CV_8UC1, cv::Scalar(90)));
  std::vector<unsigned char> exif = {0xFF, 0xD8, 0xFF, 0xE1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
  exif.insert(exif.end(), thumb.begin(), thumb.end());
  const std::size_t segment = exif.size() - 4;
  exif[4] = static_cast<unsigned char>(segment >> 8);
  exif[5] = static_cast<unsigned char>(segment & 0xFF);
  exif.insert(exif.end(), jpeg.begin() + 2, jpeg.end());

  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::vector<unsigned char>>>{
           {"a.png", png}, {"a.jpg", jpeg}, {"exif.jpg", exif}}) {
    const cv::Mat whole = data::read_grey_image(write(name, bytes, bytes.size()));
    const cv::Mat expected = cv::imread((dir / name).string(), cv::IMREAD_GRAYSCALE);
    ASSERT_EQ(whole.size(), face.size()) << name;
    EXPECT_EQ(0, cv::norm(whole, expected, cv::NORM_INF)) << name;
    // Bytes after the end marker (phones append a video, say) are allowed, even ones that look
    // like a start-of-scan or start-of-image marker.
    auto padded = bytes;
    padded.insert(padded.end(), {0, 0x11, 0xFF, 0xDA, 0x22, 0x33, 0xFF, 0xD8, 0xFF});
    EXPECT_NO_THROW(data::read_grey_image(write("padded_" + name, padded, padded.size()))) << name;
    std::vector<std::size_t> cuts = {bytes.size() - 1, bytes.size() - 2, bytes.size() - 12,
                                     bytes.size() * 2 / 3};
    // Cut after the thumbnail, before the main image's scan: the thumbnail's EOI must not count.
    if (name == "exif.jpg") cuts.push_back(segment + 4 + 30);
    for (const std::size_t cut : cuts) {
      const fs::path file = write("cut_" + name, bytes, cut);
      const bool is_png = name.ends_with(".png");
      // What the check guards against: OpenCV alone takes a JPEG cut inside its scan.
      if (!is_png && cut > bytes.size() / 2) {
        EXPECT_FALSE(cv::imread(file.string(), cv::IMREAD_GRAYSCALE).empty()) << name << cut;
      }
      try {
        data::read_grey_image(file);
        ADD_FAILURE() << name << " cut to " << cut << " of " << bytes.size() << " bytes was read";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(is_png ? "PNG ends before its IEND chunk"
                                                    : "JPEG ends before its end-of-image"),
                  std::string::npos)
            << e.what();
      }
    }
  }
  const auto message = [&](const fs::path& file) {
    try {
      data::read_grey_image(file);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("read");
  };
  EXPECT_EQ(message(dir / "none.png"), "no such file");
  EXPECT_EQ(message(write("empty.png", png, 0)), "the file is empty");
  EXPECT_EQ(message(dir), "not a regular file");
  write_text(dir / "text.png", "not a png at all");
  EXPECT_NE(message(dir / "text.png").find("not an image format OpenCV decodes"),
            std::string::npos);

  // Through the manifest reader: the truncated JPEG is a bad row naming the cause.
  write("cut.jpg", jpeg, jpeg.size() / 2);
  write_text(dir / "m.csv", "path,subject,expression\na.jpg,p1,happy\ncut.jpg,p2,happy\n");
  const Dataset d = read_manifest(dir / "m.csv", config());
  EXPECT_EQ(d.size(), 1);
  EXPECT_TRUE(has_issue(d, dir / "m.csv", 3, "truncated", "row")) << all_issues(d);
}

#else
TEST(CkPlusReader, NeedsOpenCv) {
  GTEST_SKIP() << "this build has no OpenCV: the image readers are not built";
}
#endif
