// The synthetic CK+ generator (DESIGN §4): procedurally drawn faces whose Action Units move
// landmarks and texture known regions, written in the real CK+ layout so the CK+ reader parses it
// exactly as it parses CK+ itself:
//
//   cohn-kanade-images/S005/001/S005_001_00000001.png       grey 640×490 8-bit, frames from 1
//   Landmarks/S005/001/S005_001_00000001_landmarks.txt      68 lines "   x   y" (%.7e), every frame
//   FACS/S005/001/S005_001_000000NN_facs.txt                peak (last) frame: "   AU   intensity"
//                                                           (1–5 for A–E; 0 = present, not coded)
//   Emotion/S005/001/S005_001_000000NN_emotion.txt          peak frame: "   code" (1–7); some
//                                                           sequences have an empty Emotion folder,
//                                                           AU-only sequences have none
//   Regions/S005/001/S005_001_00000001_regions.txt          every frame (empty for the neutral
//                                                           one): "AU x0 y0 x1 y1" per visibly
//                                                           active AU, integer pixels, x0/y0
//                                                           inclusive, x1/y1 exclusive
//   README.txt                                              says it is synthetic, version, seed
//
// Deterministic: every random draw is a counter-based function of (seed, subject, sequence,
// frame, purpose), so the same configuration writes the same bytes, whatever the thread count,
// and whatever vector units the CPU has: the renderer's float filters are its own
// (data/synth_filter.h), not OpenCV's run-time-dispatched ones.
// Needs OpenCV (built only when AULENS_HAVE_OPENCV).
#pragma once

#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "aulens/config.h"

namespace aulens {

// Bumped whenever the drawn images or the written files change for the same seed.
inline constexpr int kSynthVersion = 2;

// The Action Units the generator draws (DESIGN §4), ascending.
inline constexpr std::array<int, 18> kSynthAus = {1,  2,  4,  5,  6,  7,  9,  10, 12,
                                                  14, 15, 17, 20, 23, 24, 25, 26, 27};

// CK+ emotion names by code (0 neutral, 1–7 as in the Emotion files).
inline constexpr std::array<const char*, 8> kEmotionNames = {
    "neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"};

struct SynthSummary {
  std::filesystem::path root;  // where the dataset was written
  int subjects = 0;
  int sequences = 0;
  int frames = 0;                          // images written
  std::array<int, 8> emotion_sequences{};  // sequences with an Emotion file, by code
  int empty_emotion_sequences = 0;         // expression drawn, Emotion folder left empty
  int au_only_sequences = 0;               // AU combinations without an emotion
  std::map<int, int> au_sequences;         // AU → sequences whose FACS file lists it
  std::map<int, int> au_frames;            // AU → frames whose Regions file lists it
  double seconds = 0.0;
};

// Called after each finished subject with (subjects done, subjects total); may be empty.
using SynthProgress = std::function<void(int done, int total)>;

// Writes the dataset described by `cfg` to `out`. It is built in "<out>.partial" and renamed at
// the end, so a killed run never leaves a half-written dataset under `out`. An existing `out` is
// replaced only when it is empty or an earlier aulens synthetic dataset (its README.txt says so);
// anything else is an error, as is an out-of-range configuration value.
SynthSummary generate_synthetic(const SynthConfig& cfg, const std::filesystem::path& out,
                                const SynthProgress& progress = {});

// The README.txt generate_synthetic writes for `cfg`: it names the generator version and every
// setting, so comparing a set's README.txt with it tells whether the set is the one `cfg` makes.
std::string synthetic_readme(const SynthConfig& cfg);

// A few human-readable lines: counts per emotion and per AU, frames, seconds.
std::string format_summary(const SynthSummary& summary);

}  // namespace aulens
