// The options the whole-network benchmarks (aulens_bench_train, aulens_bench_records) share: the
// network to time, DESIGN §1.1's by default (the targets' figures are for that one), and whether
// to time the cuDNN rows.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "aulens/net.h"

namespace aulens::bench {

// --net SIZE,CONV1,CONV2,CONV3,FC writes `net`'s input size and widths.
inline void add_net_option(CLI::App& app, NetConfig& net) {
  app.add_option_function<std::vector<int>>(
         "--net",
         [&net](const std::vector<int>& v) {
           if (v.size() != 5)
             throw CLI::ValidationError("--net", "needs 5 values: SIZE,CONV1,CONV2,CONV3,FC");
           if (v[0] % 8 != 0) throw CLI::ValidationError("--net", "SIZE must be divisible by 8");
           for (int x : v)
             if (x < 1) throw CLI::ValidationError("--net", "every value must be positive");
           net.input_size = v[0];
           net.conv1 = v[1];
           net.conv2 = v[2];
           net.conv3 = v[3];
           net.fc = v[4];
         },
         "the network timed, SIZE,CONV1,CONV2,CONV3,FC (default 96,64,128,256,1024: DESIGN "
         "§1.1's, which the targets are for)")
      ->delimiter(',');
}

inline std::string net_text(const NetConfig& net) {
  return std::to_string(net.input_size) + "," + std::to_string(net.conv1) + "," +
         std::to_string(net.conv2) + "," + std::to_string(net.conv3) + "," + std::to_string(net.fc);
}

}  // namespace aulens::bench
