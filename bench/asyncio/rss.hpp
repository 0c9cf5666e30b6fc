// The resident set of this process, now and at its peak, for the asyncio benchmarks.
//
// Both come from /proc/self/status (VmRSS, VmHWM), which describe this program's own
// address space. getrusage()'s ru_maxrss would not do: Linux carries it over execve(), so a
// benchmark started from Python would report the Python parent's peak when its own is lower.
#pragma once

#include <fstream>
#include <string>
#include <string_view>

namespace bench {

/// The value in KiB of one line of /proc/self/status ("VmRSS:", "VmHWM:"), or -1.
inline long proc_status_kb(std::string_view key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(key)) return std::stol(line.substr(key.size()));
  }
  return -1;
}

/// The resident set now, in KiB: the baseline before a workload.
inline long rss_now_kb() { return proc_status_kb("VmRSS:"); }

/// The peak resident set so far, in KiB.
inline long rss_peak_kb() { return proc_status_kb("VmHWM:"); }

}  // namespace bench
