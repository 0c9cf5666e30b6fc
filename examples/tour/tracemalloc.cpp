// Tour section: Python's tracemalloc recipe, tracing a small function and showing its top sites.
#include <batteries/errors.hpp>
#include <batteries/tracemalloc.hpp>

#include <string>
#include <vector>

#include "tour.hpp"

namespace tracemalloc = batteries::tracemalloc;

namespace {

struct Record {
  std::string name;
  std::vector<double> values;
};

// Loads n records: three allocation sites, of different sizes.
[[gnu::noinline]] std::vector<Record> load_records(int n) {
  std::vector<Record> records;
  records.reserve(std::size_t(n));
  for (int i = 0; i < n; ++i) {
    Record r;
    r.name = std::string(100, 'r') + std::to_string(i);
    r.values.assign(64, double(i));
    records.push_back(std::move(r));
  }
  return records;
}

}  // namespace

void tour::tracemalloc() {
  heading("tracemalloc: where did the memory go?");
  // tracemalloc.start()
  // records = load_records(1000)
  // snapshot = tracemalloc.take_snapshot()
  // for stat in snapshot.statistics('lineno')[:3]: print(stat)
  try {
    tracemalloc::start();
  } catch (const batteries::RuntimeError& e) {
    fmt::print("(skipped: {})\n", e.what());  // a sanitizer build owns malloc
    return;
  }
  std::vector<Record> records = load_records(1000);
  tracemalloc::Snapshot snapshot = tracemalloc::take_snapshot();
  auto [current, peak] = tracemalloc::get_traced_memory();
  tracemalloc::stop();
  fmt::print("[ Top 3 ]\n");
  auto stats = snapshot.statistics("lineno");
  for (std::size_t i = 0; i < stats.size() && i < 3; ++i) {
    fmt::print("{}\n", stats[i]);
  }
  fmt::print("traced: current {} KiB, peak {} KiB, for {} records\n", current / 1024, peak / 1024,
             records.size());
}
