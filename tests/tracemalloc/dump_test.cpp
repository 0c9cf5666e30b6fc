// Tests for the snapshot file: DumpWriter's bytes, write_dump/read_dump round trips, and a
// parser that refuses every cut, flipped or inconsistent file with a ValueError.
#include <batteries/errors.hpp>
#include <batteries/tracemalloc/snapshot.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <gtest/gtest.h>

#include <bit>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fs.hpp"
#include "raises.hpp"
#include "tracemalloc/dump.hpp"

namespace {

using batteries::FileNotFoundError;
using batteries::IsADirectoryError;
using batteries::OSError;
using batteries::ValueError;
using batteries::tracemalloc::Frame;
using batteries::tracemalloc::Trace;
using batteries::tracemalloc::Traceback;
using batteries::tracemalloc::detail::DumpWriter;
using batteries::tracemalloc::detail::kDumpMagic;
using batteries::tracemalloc::detail::kNoTotal;
using batteries::tracemalloc::detail::ModuleInfo;
using batteries::tracemalloc::detail::RawSnapshot;
using batteries::tracemalloc::detail::RawTrace;
using batteries::tracemalloc::detail::RawTraceback;
using batteries::tracemalloc::detail::read_dump;
using batteries::tracemalloc::detail::Section;
using batteries::tracemalloc::detail::SnapshotData;
using batteries::tracemalloc::detail::write_dump;

constexpr std::uint64_t kMax64 = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint32_t kMax32 = std::numeric_limits<std::uint32_t>::max();

std::uint64_t le(std::string_view bytes, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    v |= std::uint64_t{static_cast<unsigned char>(bytes.at(at + i))} << (8 * i);
  }
  return v;
}

std::uint32_t crc_of(std::string_view payload) {
  return static_cast<std::uint32_t>(::crc32(::crc32(0L, Z_NULL, 0),
                                            reinterpret_cast<const Bytef*>(payload.data()),
                                            static_cast<uInt>(payload.size())));
}

struct SectionSpan {
  std::uint32_t tag;
  std::size_t header;   // offset of the section header
  std::size_t payload;  // offset of the payload
  std::size_t length;
};

/// The sections of a well-formed file, walked by hand.
std::vector<SectionSpan> sections_of(std::string_view bytes) {
  std::vector<SectionSpan> out;
  std::size_t pos = 16;
  while (pos < bytes.size()) {
    SectionSpan s{static_cast<std::uint32_t>(le(bytes, pos, 4)), pos, pos + 16,
                  static_cast<std::size_t>(le(bytes, pos + 8, 8))};
    out.push_back(s);
    pos = s.payload + s.length + 4;
  }
  return out;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  return names;
}

// ---- writing files the way the agent does ----

void write_meta(DumpWriter& w, const RawSnapshot& raw) {
  w.begin_section(Section::kMeta);
  w.u64(raw.pid);
  w.u64(raw.traceback_limit);
  w.u64(raw.sample_rate);
  w.u64(raw.traced_current);
  w.u64(raw.traced_peak);
  w.f64(raw.time);
  w.end_section();
}

void write_modules(DumpWriter& w, const RawSnapshot& raw) {
  w.begin_section(Section::kModules);
  w.u32(static_cast<std::uint32_t>(raw.modules.size()));
  for (const ModuleInfo& m : raw.modules) {
    w.str(m.path);
    w.u64(m.bias);
    w.u64(m.start);
    w.u64(m.end);
    w.str(m.build_id);
  }
  w.end_section();
}

void write_tracebacks(DumpWriter& w, const RawSnapshot& raw) {
  w.begin_section(Section::kTracebacks);
  w.u32(static_cast<std::uint32_t>(raw.tracebacks.size()));
  for (const RawTraceback& tb : raw.tracebacks) {
    w.u32(tb.total_nframe);
    w.u32(static_cast<std::uint32_t>(tb.frames.size()));
    for (const std::uint64_t address : tb.frames) w.u64(address);
  }
  w.end_section();
}

void write_traces(DumpWriter& w, const RawSnapshot& raw) {
  w.begin_section(Section::kTraces);
  w.u64(raw.traces.size());
  for (const RawTrace& t : raw.traces) {
    w.u32(t.domain);
    w.u64(t.size);
    w.u32(t.traceback);
  }
  w.end_section();
}

/// A section written by hand.
void write_section(DumpWriter& w, Section tag, const std::function<void(DumpWriter&)>& body) {
  w.begin_section(tag);
  body(w);
  w.end_section();
}

/// Writes header, what `body` writes, and the end section, as the agent does.
void write_with(const std::string& path, const std::function<void(DumpWriter&)>& body) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  auto w = std::make_unique<DumpWriter>(fd);
  w->header();
  body(*w);
  EXPECT_TRUE(w->finish()) << "errno " << w->error();
  ::close(fd);
}

void write_raw(const std::string& path, const RawSnapshot& raw) {
  write_with(path, [&](DumpWriter& w) {
    write_meta(w, raw);
    write_modules(w, raw);
    write_tracebacks(w, raw);
    write_traces(w, raw);
  });
}

RawSnapshot small_raw() {
  RawSnapshot raw;
  raw.pid = 42;
  raw.traceback_limit = 5;
  raw.time = 1.5;
  raw.modules.push_back({"/bin/x", 0x1000, 0x2000, 0x3000, std::string("\x01\x00\xff", 3)});
  raw.tracebacks.push_back({{0x2010, 0x2020}, 2});
  raw.traces.push_back({0, 64, 0});
  return raw;
}

Frame frame(std::string filename, int lineno, std::string function = "f",
            std::string module = "/lib/m.so", std::uint64_t offset = 0x10) {
  return Frame{std::move(filename), lineno, std::move(function), std::move(module), offset};
}

/// Every field, not Frame's operator== (which skips module and offset when there is a line).
void expect_same_frames(const Traceback& a, const Traceback& b) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.total_nframe(), b.total_nframe());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].filename, b[i].filename) << i;
    EXPECT_EQ(a[i].lineno, b[i].lineno) << i;
    EXPECT_EQ(a[i].function, b[i].function) << i;
    EXPECT_EQ(a[i].module, b[i].module) << i;
    EXPECT_EQ(a[i].offset, b[i].offset) << i;
  }
}

void expect_same_raw(const RawSnapshot& a, const RawSnapshot& b) {
  EXPECT_EQ(a.pid, b.pid);
  EXPECT_EQ(a.traceback_limit, b.traceback_limit);
  EXPECT_EQ(a.sample_rate, b.sample_rate);
  EXPECT_EQ(a.traced_current, b.traced_current);
  EXPECT_EQ(a.traced_peak, b.traced_peak);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(a.time), std::bit_cast<std::uint64_t>(b.time));
  EXPECT_EQ(a.modules, b.modules);
  EXPECT_EQ(a.tracebacks, b.tracebacks);
  EXPECT_EQ(a.traces, b.traces);
}

std::shared_ptr<SnapshotData> resolved_data(std::vector<Trace> traces, std::size_t limit = 10) {
  auto data = std::make_shared<SnapshotData>();
  data->traceback_limit = limit;
  data->raw.traceback_limit = limit;
  data->traces = std::move(traces);
  data->resolved = true;
  return data;
}

/// A small resolved snapshot: two traces sharing one traceback, and one more.
std::shared_ptr<SnapshotData> small_resolved() {
  const Traceback shared({frame("a.cpp", 3), frame("b.cpp", 0, "", "/bin/x", 0x42)}, 7);
  const Traceback other({frame("\xc3\xa9t\xc3\xa9.cpp", 1)});
  return resolved_data({{0, 10, shared}, {1, 20, shared}, {0, 30, other}});
}

class DumpTest : public ::testing::Test {
 protected:
  void SetUp() override { m_dir = batteries::testing::make_temp_dir("dump_test"); }
  void TearDown() override { batteries::testing::remove_tree(m_dir); }

  [[nodiscard]] std::string path(std::string_view name) const {
    return m_dir + "/" + std::string(name);
  }
  /// The file a crafted body makes, with the usual META, MODULES, TRACEBACKS and TRACES
  /// of small_raw() unless `body` replaces them.
  std::string craft(const std::function<void(DumpWriter&)>& body, std::string_view name = "c") {
    const std::string p = path(name);
    write_with(p, body);
    return p;
  }
  /// The path as read_dump quotes it: Python's repr().
  std::string quoted(const std::string& p) const { return batteries::py_repr(p); }

  std::string m_dir;
};

using DumpWriterTest = DumpTest;

// ---- DumpWriter ----

TEST_F(DumpWriterTest, WritesTheDocumentedBytes) {
  const std::string p = craft([](DumpWriter& w) {
    write_section(w, Section::kTraces, [](DumpWriter& s) {
      s.u32(0x01020304);
      s.i32(-2);
      s.u64(0x1122334455667788);
      s.f64(1.0);
      s.str("ab");
    });
  });
  const std::string bytes = batteries::testing::read_file(p);
  std::string expected(kDumpMagic, sizeof kDumpMagic);
  expected += std::string("\x01\0\0\0\0\0\0\0", 8);                     // version 1, flags 0
  expected += std::string("\x04\0\0\0\0\0\0\0\x1e\0\0\0\0\0\0\0", 16);  // TRACES, 30 bytes
  const std::string payload =
      std::string("\x04\x03\x02\x01\xfe\xff\xff\xff", 8) + "\x88\x77\x66\x55\x44\x33\x22\x11" +
      std::string("\0\0\0\0\0\0\xf0\x3f", 8) + std::string("\x02\0\0\0ab", 6);
  ASSERT_EQ(payload.size(), 30u);
  expected += payload;
  const std::uint32_t crc = crc_of(payload);
  for (int i = 0; i < 4; ++i) expected.push_back(static_cast<char>(crc >> (8 * i)));
  expected += std::string("\xff\xff\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);  // END, empty
  expected += std::string("\0\0\0\0", 4);                               // crc32 of nothing
  EXPECT_EQ(bytes, expected);
}

TEST_F(DumpWriterTest, SectionsLargerThanTheBufferArePatchedInPlace) {
  // Enough to flush the 64 KiB buffer several times inside one section, so that its length
  // goes in with pwrite; then small sections whose headers sit at every buffer position.
  std::string big(200000, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  const std::string p = craft([&](DumpWriter& w) {
    write_section(w, Section::kFrames, [&](DumpWriter& s) {
      s.bytes(big.data(), big.size());
      for (std::uint64_t i = 0; i < 10000; ++i) s.u64(i);
    });
    for (int i = 0; i < 9000; ++i) {
      write_section(w, static_cast<Section>(100), [&](DumpWriter& s) {
        s.u32(0);
        s.u32(1);
      });
    }
  });
  const std::string bytes = batteries::testing::read_file(p);
  const std::vector<SectionSpan> spans = sections_of(bytes);
  ASSERT_EQ(spans.size(), 9002u);
  std::size_t end = 16;
  for (const SectionSpan& s : spans) {
    ASSERT_EQ(s.header, end);
    ASSERT_EQ(le(bytes, s.header + 4, 4), 0u);
    const std::string_view payload = std::string_view(bytes).substr(s.payload, s.length);
    ASSERT_EQ(le(bytes, s.payload + s.length, 4), crc_of(payload)) << s.header;
    end = s.payload + s.length + 4;
  }
  EXPECT_EQ(end, bytes.size());
  EXPECT_EQ(spans[0].length, big.size() + 80000);
  EXPECT_EQ(std::string_view(bytes).substr(spans[0].payload, big.size()), big);
  EXPECT_EQ(spans.back().tag, static_cast<std::uint32_t>(Section::kEnd));
}

TEST_F(DumpWriterTest, AFullDiskIsReportedWithItsErrno) {
  const int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  if (fd < 0) GTEST_SKIP() << "no /dev/full";
  auto w = std::make_unique<DumpWriter>(fd);
  w->header();
  write_meta(*w, small_raw());
  EXPECT_FALSE(w->finish());
  EXPECT_FALSE(w->ok());
  EXPECT_EQ(w->error(), ENOSPC);
  w->u64(1);  // sticky: nothing more happens
  EXPECT_EQ(w->error(), ENOSPC);
  ::close(fd);
}

TEST_F(DumpWriterTest, AReadOnlyDescriptorIsReported) {
  batteries::testing::write_file(path("ro"), "");
  const int fd = ::open(path("ro").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto w = std::make_unique<DumpWriter>(fd);
  w->header();
  EXPECT_FALSE(w->finish());
  EXPECT_EQ(w->error(), EBADF);
  ::close(fd);

  auto closed = std::make_unique<DumpWriter>(-1);
  EXPECT_FALSE(closed->ok());
  EXPECT_FALSE(closed->finish());
  EXPECT_EQ(closed->error(), EBADF);
}

TEST_F(DumpWriterTest, AFailureAfterSomeSectionsStopsEverything) {
  // A pipe whose reader is gone: the first flush fails with EPIPE (SIGPIPE ignored here).
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  const auto old = ::signal(SIGPIPE, SIG_IGN);
  auto w = std::make_unique<DumpWriter>(fds[1]);
  w->header();
  write_section(*w, Section::kFrames, [](DumpWriter& s) {
    for (int i = 0; i < 20000; ++i) s.u64(1);  // more than the buffer
  });
  EXPECT_FALSE(w->finish());
  EXPECT_EQ(w->error(), EPIPE);
  ::signal(SIGPIPE, old);
  ::close(fds[1]);
}

TEST_F(DumpWriterTest, MisuseIsAnError) {
  {
    const int fd = ::open(path("a").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    auto w = std::make_unique<DumpWriter>(fd);
    w->header();
    w->end_section();  // no section open
    EXPECT_EQ(w->error(), EINVAL);
    ::close(fd);
  }
  {
    const int fd = ::open(path("b").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    auto w = std::make_unique<DumpWriter>(fd);
    w->header();
    w->begin_section(Section::kMeta);
    w->begin_section(Section::kMeta);  // nested
    EXPECT_EQ(w->error(), EINVAL);
    ::close(fd);
  }
  {
    const int fd = ::open(path("c").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    auto w = std::make_unique<DumpWriter>(fd);
    w->header();
    w->begin_section(Section::kMeta);
    EXPECT_FALSE(w->finish());  // a section left open
    EXPECT_EQ(w->error(), EINVAL);
    ::close(fd);
  }
}

// ---- round trips ----

TEST_F(DumpTest, RawSnapshotRoundTrip) {
  RawSnapshot raw;
  raw.pid = 123456789;
  raw.traceback_limit = 100;
  raw.sample_rate = 512 * 1024;
  raw.traced_current = kMax64 - 1;
  raw.traced_peak = kMax64;
  raw.time = 1712345678.123456;
  raw.modules.push_back({"/usr/bin/prog", 0x555500000000, 0x555500001000, 0x555500009000,
                         std::string("\x00\x11\xff\xfe\x00 binary id", 15)});
  raw.modules.push_back({"", 0, 0x7fff0000, 0x7fff2000, ""});  // the vDSO
  raw.modules.push_back({"/lib/\xc3\xa9\xff.so", kMax64, 0, kMax64, std::string(20, '\0')});
  for (std::uint32_t k = 0; k <= 100; ++k) {
    RawTraceback tb;
    for (std::uint32_t j = 0; j < k; ++j) tb.frames.push_back(kMax64 - j * 0x1000 - k);
    tb.total_nframe = k % 3 == 0 ? kNoTotal : k + 5;
    raw.tracebacks.push_back(std::move(tb));
  }
  for (std::uint32_t i = 0; i < 1000; ++i) {
    raw.traces.push_back(
        {i % 7 == 0 ? kMax32 : i % 3, i % 11 == 0 ? kMax64 : std::uint64_t{i} << 33, i % 101});
  }
  write_raw(path("raw.bin"), raw);

  const auto data = read_dump(path("raw.bin"));
  ASSERT_NE(data, nullptr);
  expect_same_raw(data->raw, raw);
  EXPECT_EQ(data->traceback_limit, 100u);
  EXPECT_FALSE(data->resolved);
  EXPECT_TRUE(data->traces.empty());
}

TEST_F(DumpTest, SpecialDoublesSurvive) {
  for (const double t : {0.0, -0.0, 1e-300, std::numeric_limits<double>::infinity(),
                         std::numeric_limits<double>::quiet_NaN()}) {
    RawSnapshot raw;
    raw.time = t;
    write_raw(path("t.bin"), raw);
    const auto data = read_dump(path("t.bin"));
    EXPECT_EQ(std::bit_cast<std::uint64_t>(data->raw.time), std::bit_cast<std::uint64_t>(t));
  }
}

TEST_F(DumpTest, ResolvedSnapshotRoundTrip) {
  const Traceback shared(
      {frame("/src/\xc3\xa9\xe2\x82\xac.cpp", 12, "ns::f<int>(int)", "/usr/lib/libx.so", 0x1234),
       frame("/usr/bin/prog", 0, "", "/usr/bin/prog", 0xdead),
       frame("/usr/bin/prog", 0, "", "/usr/bin/prog", 0xbeef),  // differs by offset only
       frame("", -1, "", "", 0), frame("main.cpp", std::numeric_limits<int>::max(), "main")},
      std::optional<std::size_t>(9));
  // Equal to a frame of `shared` by operator== (same file, line, function), not by module.
  const Traceback similar(
      {frame("/src/\xc3\xa9\xe2\x82\xac.cpp", 12, "ns::f<int>(int)", "/other/lib.so", 0x99)});
  const Traceback empty;
  const Traceback unknown_total({frame("z.cpp", 1)}, std::nullopt);
  auto data = resolved_data(
      {{0, 1, shared},
       {kMax32, std::numeric_limits<std::size_t>::max(), shared},
       {2, 0, empty},
       {0, 3, similar},
       {0, 4, unknown_total},
       {0, 5, Traceback(std::vector<Frame>(shared.frames().rbegin(), shared.frames().rend()), 9)}},
      20);
  data->raw.pid = 77;
  data->raw.sample_rate = 4096;
  data->raw.traced_current = 1000;
  data->raw.traced_peak = 2000;
  data->raw.time = 12.25;
  write_dump(path("resolved.bin"), *data);

  const auto loaded = read_dump(path("resolved.bin"));
  EXPECT_TRUE(loaded->resolved);
  EXPECT_EQ(loaded->traceback_limit, 20u);
  EXPECT_EQ(loaded->raw.traceback_limit, 20u);
  EXPECT_EQ(loaded->raw.pid, 77u);
  EXPECT_EQ(loaded->raw.sample_rate, 4096u);
  EXPECT_EQ(loaded->raw.traced_current, 1000u);
  EXPECT_EQ(loaded->raw.traced_peak, 2000u);
  EXPECT_EQ(loaded->raw.time, 12.25);
  ASSERT_EQ(loaded->traces, data->traces);
  for (std::size_t i = 0; i < data->traces.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(loaded->traces[i].domain, data->traces[i].domain);
    EXPECT_EQ(loaded->traces[i].size, data->traces[i].size);
    expect_same_frames(loaded->traces[i].traceback, data->traces[i].traceback);
  }
  // Equal tracebacks come back as one, shared between the traces that use it.
  EXPECT_EQ(&loaded->traces[0].traceback.frames(), &loaded->traces[1].traceback.frames());
  EXPECT_EQ(&loaded->traces[0].traceback.frames(), &loaded->traces[5].traceback.frames());
  EXPECT_NE(&loaded->traces[0].traceback.frames(), &loaded->traces[3].traceback.frames());
  EXPECT_EQ(loaded->raw.tracebacks.size(), 4u);  // shared, empty, similar, unknown_total
  EXPECT_EQ(loaded->raw.tracebacks[0].total_nframe, 9u);
  EXPECT_EQ(loaded->raw.tracebacks[3].total_nframe, kNoTotal);

  // Loaded and written again: the same bytes.
  write_dump(path("again.bin"), *loaded);
  EXPECT_EQ(batteries::testing::read_file(path("again.bin")),
            batteries::testing::read_file(path("resolved.bin")));
}

TEST_F(DumpTest, RawAndResolvedKeepTheAddresses) {
  // A snapshot read from an agent's dump and resolved: the raw tables go out as they are,
  // and each raw traceback's frames come from a trace that uses it.
  RawSnapshot raw = small_raw();
  raw.tracebacks.push_back({{0x2030}, kNoTotal});
  raw.tracebacks.push_back({{0x2040, 0x2050, 0x2060}, 3});  // used by no trace
  raw.traces.push_back({0, 100, 1});
  raw.traces.push_back({5, 200, 0});
  const Traceback first({frame("a.cpp", 1), frame("b.cpp", 2), frame("inlined.hpp", 3)}, 2);
  const Traceback second({frame("c.cpp", 4)});
  auto data = resolved_data({{0, 64, first}, {0, 100, second}, {5, 200, first}}, 5);
  data->raw = raw;
  write_dump(path("both.bin"), *data);

  const auto loaded = read_dump(path("both.bin"));
  expect_same_raw(loaded->raw, raw);
  EXPECT_TRUE(loaded->resolved);
  ASSERT_EQ(loaded->traces.size(), 3u);
  expect_same_frames(loaded->traces[0].traceback, first);
  expect_same_frames(loaded->traces[2].traceback, first);
  EXPECT_EQ(loaded->traces[1].traceback.frames(), second.frames());
  EXPECT_EQ(loaded->traces[1].traceback.total_nframe(), std::nullopt);
  EXPECT_EQ(loaded->traces[0].traceback.total_nframe(), 2u);
}

TEST_F(DumpTest, EmptySnapshotRoundTrip) {
  write_dump(path("empty.bin"), *resolved_data({}, 1));
  const auto loaded = read_dump(path("empty.bin"));
  EXPECT_TRUE(loaded->resolved);
  EXPECT_TRUE(loaded->traces.empty());
  EXPECT_TRUE(loaded->raw.traces.empty());
  EXPECT_TRUE(loaded->raw.tracebacks.empty());
  EXPECT_EQ(loaded->traceback_limit, 1u);
}

TEST_F(DumpTest, WriteReplacesAnExistingFileAndLeavesNoTemporary) {
  batteries::testing::write_file(path("out.bin"), "old contents");
  write_dump(path("out.bin"), *small_resolved());
  EXPECT_EQ(read_dump(path("out.bin"))->traces, small_resolved()->traces);
  EXPECT_EQ(list_dir(m_dir), std::vector<std::string>{"out.bin"});
}

TEST_F(DumpTest, WriteWithLongAndRelativeNames) {
  const std::string name(250, 'n');  // the temporary file's name must still fit NAME_MAX
  write_dump(path(name), *small_resolved());
  EXPECT_EQ(read_dump(path(name))->traces, small_resolved()->traces);
  {
    const batteries::testing::ScopedCwd cwd(m_dir);
    write_dump("relative.bin", *small_resolved());
    EXPECT_EQ(read_dump("relative.bin")->traces, small_resolved()->traces);
  }
  EXPECT_EQ(list_dir(m_dir).size(), 2u);
}

TEST_F(DumpTest, WriteIntoAMissingDirectory) {
  const std::string p = path("missing/out.bin");
  EXPECT_RAISES_MSG(write_dump(p, *small_resolved()), FileNotFoundError,
                    "[Errno 2] No such file or directory: " + quoted(p));
  EXPECT_TRUE(list_dir(m_dir).empty());

  batteries::testing::write_file(path("file"), "x");
  EXPECT_RAISES(write_dump(path("file/out.bin"), *small_resolved()), batteries::NotADirectoryError);
  EXPECT_EQ(list_dir(m_dir), std::vector<std::string>{"file"});
}

TEST_F(DumpTest, WriteOverADirectory) {
  batteries::testing::make_dir(path("dir"));
  try {
    write_dump(path("dir"), *small_resolved());
    ADD_FAILURE() << "no exception";
  } catch (const OSError& e) {
    EXPECT_EQ(e.errno_(), EISDIR);
    EXPECT_EQ(e.filename(), path("dir"));
    EXPECT_EQ(e.type_name(), "IsADirectoryError");
  }
  EXPECT_EQ(list_dir(m_dir), std::vector<std::string>{"dir"});
  EXPECT_TRUE(list_dir(path("dir")).empty());
}

TEST_F(DumpTest, WriteIntoAReadOnlyDirectory) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes anywhere";
  batteries::testing::make_dir(path("ro"), 0555);
  EXPECT_RAISES(write_dump(path("ro/out.bin"), *small_resolved()), batteries::PermissionError);
  EXPECT_TRUE(list_dir(path("ro")).empty());
}

// ---- errors from the file system ----

TEST_F(DumpTest, MissingFile) {
  EXPECT_RAISES_MSG(read_dump(path("nope.bin")), FileNotFoundError,
                    "[Errno 2] No such file or directory: " + quoted(path("nope.bin")));
}

TEST_F(DumpTest, Directory) { EXPECT_RAISES(read_dump(m_dir), IsADirectoryError); }

// ---- refused files ----

TEST_F(DumpTest, NotASnapshot) {
  for (const std::string_view text :
       {std::string_view(""), std::string_view("BTMSNAP"), std::string_view("BTMSNAP\r"),
        std::string_view("\x89PNG\r\n\x1a\n and more bytes than a header")}) {
    batteries::testing::write_file(path("x.bin"), text);
    EXPECT_RAISES_MSG(read_dump(path("x.bin")), ValueError,
                      "not a tracemalloc snapshot file: " + quoted(path("x.bin")));
  }
}

TEST_F(DumpTest, UnsupportedVersionAndFlags) {
  std::string bytes = batteries::testing::read_file(craft([](DumpWriter&) {}));
  bytes[8] = 7;
  batteries::testing::write_file(path("v.bin"), bytes);
  EXPECT_RAISES_MSG(read_dump(path("v.bin")), ValueError,
                    "unsupported tracemalloc snapshot version 7 in " + quoted(path("v.bin")) +
                        " (this build reads version 1)");
  bytes[8] = 1;
  bytes[12] = 4;
  batteries::testing::write_file(path("f.bin"), bytes);
  EXPECT_RAISES_MSG(read_dump(path("f.bin")), ValueError,
                    "unsupported tracemalloc snapshot flags 0x4 in " + quoted(path("f.bin")));
}

TEST_F(DumpTest, TruncatedAtEveryLength) {
  write_dump(path("full.bin"), *small_resolved());
  const std::string bytes = batteries::testing::read_file(path("full.bin"));
  ASSERT_GT(bytes.size(), 100u);
  EXPECT_NO_THROW((void)read_dump(path("full.bin")));
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    SCOPED_TRACE(n);
    batteries::testing::write_file(path("cut.bin"), std::string_view(bytes).substr(0, n));
    try {
      (void)read_dump(path("cut.bin"));
      ADD_FAILURE() << "read a file cut to " << n << " bytes";
    } catch (const ValueError& e) {
      const std::string_view message = e.what();
      EXPECT_TRUE(message.find("truncated tracemalloc snapshot file " + quoted(path("cut.bin"))) !=
                      std::string_view::npos ||
                  message.find("not a tracemalloc snapshot file") != std::string_view::npos)
          << message;
    }
  }
}

TEST_F(DumpTest, TruncatedMessages) {
  write_dump(path("full.bin"), *small_resolved());
  const std::string bytes = batteries::testing::read_file(path("full.bin"));
  const std::vector<SectionSpan> spans = sections_of(bytes);
  ASSERT_EQ(spans[3].tag, static_cast<std::uint32_t>(Section::kTraces));
  const SectionSpan traces = spans[3];
  const std::string cut = quoted(path("cut.bin"));
  const auto read_cut = [&](std::size_t n) {
    batteries::testing::write_file(path("cut.bin"), std::string_view(bytes).substr(0, n));
    return read_dump(path("cut.bin"));
  };
  EXPECT_RAISES_MSG(
      read_cut(12), ValueError,
      "truncated tracemalloc snapshot file " + cut + ": the header ends after 12 of 16 bytes");
  EXPECT_RAISES_MSG(read_cut(16), ValueError,
                    "truncated tracemalloc snapshot file " + cut + ": no end marker");
  EXPECT_RAISES_MSG(read_cut(traces.payload + 12), ValueError,
                    "truncated tracemalloc snapshot file " + cut +
                        ": the TRACES section ends after 12 of " + std::to_string(traces.length) +
                        " bytes");
  EXPECT_RAISES_MSG(read_cut(traces.payload + traces.length + 1), ValueError,
                    "the checksum of the TRACES section ends after 1 of 4 bytes");
  EXPECT_RAISES_MSG(read_cut(traces.header + 3), ValueError,
                    "the section header at offset " + std::to_string(traces.header) +
                        " ends after 3 of 16 bytes");
  EXPECT_RAISES_MSG(read_cut(spans.back().header), ValueError, "no end marker");
}

TEST_F(DumpTest, EveryByteFlipped) {
  write_dump(path("full.bin"), *small_resolved());
  const std::string bytes = batteries::testing::read_file(path("full.bin"));
  const std::vector<SectionSpan> spans = sections_of(bytes);
  std::vector<bool> checked(bytes.size(), false);  // payload and checksum bytes
  for (const SectionSpan& s : spans) {
    for (std::size_t i = s.payload; i < s.payload + s.length + 4; ++i) checked[i] = true;
  }
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (const int mask : {0x01, 0x80, 0xff}) {
      SCOPED_TRACE(::testing::Message() << "byte " << i << " ^ " << mask);
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ mask);
      batteries::testing::write_file(path("flip.bin"), flipped);
      try {
        (void)read_dump(path("flip.bin"));
        EXPECT_FALSE(checked[i]) << "a flipped payload or checksum byte was not noticed";
      } catch (const ValueError& e) {
        if (checked[i]) {
          EXPECT_TRUE(batteries::testing::message_contains(e.what(), "checksum mismatch"));
        }
      }
    }
  }
}

TEST_F(DumpTest, HugeCountsWithValidChecksums) {
  const RawSnapshot raw = small_raw();
  // Each would ask for gigabytes or more if the parser believed it.
  const std::string traces = craft([&](DumpWriter& w) {
    write_meta(w, raw);
    write_modules(w, raw);
    write_tracebacks(w, raw);
    write_section(w, Section::kTraces, [](DumpWriter& s) { s.u64(std::uint64_t{1} << 60); });
  });
  EXPECT_RAISES_MSG(read_dump(traces), ValueError,
                    "corrupt tracemalloc snapshot file " + quoted(traces) +
                        ": the TRACES section claims 1152921504606846976 traces in 0 bytes");

  const std::string tracebacks = craft([&](DumpWriter& w) {
    write_meta(w, raw);
    write_modules(w, raw);
    write_section(w, Section::kTracebacks, [](DumpWriter& s) {
      s.u32(kMax32);
      s.u64(0);
    });
    write_traces(w, raw);
  });
  EXPECT_RAISES_MSG(read_dump(tracebacks), ValueError,
                    "the TRACEBACKS section claims 4294967295 tracebacks in 8 bytes");

  const std::string addresses = craft([&](DumpWriter& w) {
    write_meta(w, raw);
    write_modules(w, raw);
    write_section(w, Section::kTracebacks, [](DumpWriter& s) {
      s.u32(1);
      s.u32(kNoTotal);
      s.u32(kMax32);
      s.u64(0);
    });
    write_traces(w, raw);
  });
  EXPECT_RAISES_MSG(read_dump(addresses), ValueError,
                    "the TRACEBACKS section claims 4294967295 addresses in 8 bytes");

  const std::string modules = craft([&](DumpWriter& w) {
    write_meta(w, raw);
    write_section(w, Section::kModules, [](DumpWriter& s) { s.u32(kMax32); });
    write_tracebacks(w, raw);
    write_traces(w, raw);
  });
  EXPECT_RAISES_MSG(read_dump(modules), ValueError, "the MODULES section claims 4294967295");

  const std::string string = craft([&](DumpWriter& w) {
    write_meta(w, raw);
    write_section(w, Section::kModules, [](DumpWriter& s) {
      s.u32(1);
      s.u32(kMax32);  // a path of 4 GiB
      s.bytes("0123456789012345678901234567890123456789", 40);
    });
    write_tracebacks(w, raw);
    write_traces(w, raw);
  });
  EXPECT_RAISES_MSG(read_dump(string), ValueError,
                    "a string of 4294967295 bytes runs past the end of the MODULES section");

  const std::string frames = craft([&](DumpWriter& w) {
    write_meta(w, raw);
    write_modules(w, raw);
    write_tracebacks(w, raw);
    write_traces(w, raw);
    write_section(w, Section::kFrames, [](DumpWriter& s) { s.u32(kMax32); });
    write_section(w, Section::kTracebackFrames, [](DumpWriter& s) { s.u32(0); });
  });
  EXPECT_RAISES_MSG(read_dump(frames), ValueError, "the FRAMES section claims 4294967295 frames");

  const std::string links = craft([&](DumpWriter& w) {
    write_meta(w, raw);
    write_modules(w, raw);
    write_tracebacks(w, raw);
    write_traces(w, raw);
    write_section(w, Section::kFrames, [](DumpWriter& s) { s.u32(0); });
    write_section(w, Section::kTracebackFrames, [](DumpWriter& s) { s.u32(kMax32); });
  });
  EXPECT_RAISES_MSG(read_dump(links), ValueError,
                    "the TRACEBACK_FRAMES section claims 4294967295 frame indexes in 0 bytes");
}

TEST_F(DumpTest, IndexesOutOfRange) {
  RawSnapshot raw = small_raw();
  raw.traces.push_back({0, 1, 0});
  raw.traces.push_back({0, 1, 99});
  write_raw(path("t.bin"), raw);
  EXPECT_RAISES_MSG(read_dump(path("t.bin")), ValueError,
                    "corrupt tracemalloc snapshot file " + quoted(path("t.bin")) +
                        ": trace 2 refers to traceback 99 of 1");

  const RawSnapshot good = small_raw();
  const std::string frames = craft([&](DumpWriter& w) {
    write_meta(w, good);
    write_modules(w, good);
    write_tracebacks(w, good);
    write_traces(w, good);
    write_section(w, Section::kFrames, [](DumpWriter& s) {
      s.u32(1);
      s.str("a.cpp");
      s.i32(1);
      s.str("f");
      s.str("");
      s.u64(0);
    });
    write_section(w, Section::kTracebackFrames, [](DumpWriter& s) {
      s.u32(2);
      s.u32(0);
      s.u32(1);
    });
  });
  EXPECT_RAISES_MSG(read_dump(frames), ValueError, "traceback 0 refers to frame 1 of 1");
}

TEST_F(DumpTest, MissingAndDuplicateSections) {
  const RawSnapshot raw = small_raw();
  using Writer = void (*)(DumpWriter&, const RawSnapshot&);
  const std::vector<std::pair<Writer, std::string>> required = {{write_meta, "META"},
                                                                {write_modules, "MODULES"},
                                                                {write_tracebacks, "TRACEBACKS"},
                                                                {write_traces, "TRACES"}};
  for (std::size_t skip = 0; skip < required.size(); ++skip) {
    const std::string p = craft([&](DumpWriter& w) {
      for (std::size_t i = 0; i < required.size(); ++i) {
        if (i != skip) required[i].first(w, raw);
      }
    });
    EXPECT_RAISES_MSG(read_dump(p), ValueError,
                      "corrupt tracemalloc snapshot file " + quoted(p) + ": no " +
                          required[skip].second + " section");
  }
  for (std::size_t twice = 0; twice < required.size(); ++twice) {
    const std::string p = craft([&](DumpWriter& w) {
      for (std::size_t i = 0; i < required.size(); ++i) {
        required[i].first(w, raw);
        if (i == twice) required[i].first(w, raw);
      }
    });
    EXPECT_RAISES_MSG(read_dump(p), ValueError,
                      "corrupt tracemalloc snapshot file " + quoted(p) + ": duplicate " +
                          required[twice].second + " section");
  }
}

TEST_F(DumpTest, SectionsInAnyOrderAndUnknownOnesSkipped) {
  const RawSnapshot raw = small_raw();
  const std::string p = craft([&](DumpWriter& w) {
    write_section(w, static_cast<Section>(0x1234), [](DumpWriter& s) { s.str("future"); });
    write_traces(w, raw);
    write_section(w, static_cast<Section>(0x1234), [](DumpWriter& s) { s.u64(1); });
    write_tracebacks(w, raw);
    write_modules(w, raw);
    write_section(w, static_cast<Section>(0), [](DumpWriter&) {});
    write_meta(w, raw);
  });
  const auto data = read_dump(p);
  expect_same_raw(data->raw, raw);
  EXPECT_FALSE(data->resolved);

  // An unknown section still has to carry a good checksum.
  std::string bytes = batteries::testing::read_file(p);
  bytes[16 + 16 + 4] ^= 1;  // in "future"
  batteries::testing::write_file(path("bad.bin"), bytes);
  EXPECT_RAISES_MSG(read_dump(path("bad.bin")), ValueError,
                    "checksum mismatch in the 0x1234 section");
}

TEST_F(DumpTest, FramesWithoutTheirLinks) {
  const RawSnapshot raw = small_raw();
  const auto base = [&](DumpWriter& w) {
    write_meta(w, raw);
    write_modules(w, raw);
    write_tracebacks(w, raw);
    write_traces(w, raw);
  };
  const std::string links_only = craft([&](DumpWriter& w) {
    base(w);
    write_section(w, Section::kTracebackFrames, [](DumpWriter& s) { s.u32(0); });
  });
  EXPECT_RAISES_MSG(read_dump(links_only), ValueError,
                    "a TRACEBACK_FRAMES section without a FRAMES section");
  const std::string frames_only = craft([&](DumpWriter& w) {
    base(w);
    write_section(w, Section::kFrames, [](DumpWriter& s) { s.u32(0); });
  });
  EXPECT_RAISES_MSG(read_dump(frames_only), ValueError,
                    "a FRAMES section without a TRACEBACK_FRAMES section");
  const std::string too_few = craft([&](DumpWriter& w) {
    base(w);
    write_section(w, Section::kFrames, [](DumpWriter& s) { s.u32(0); });
    write_section(w, Section::kTracebackFrames, [](DumpWriter&) {});
  });
  EXPECT_RAISES_MSG(read_dump(too_few), ValueError,
                    "the TRACEBACK_FRAMES section has 0 entries for 1 tracebacks");
  const std::string too_many = craft([&](DumpWriter& w) {
    base(w);
    write_section(w, Section::kFrames, [](DumpWriter& s) { s.u32(0); });
    write_section(w, Section::kTracebackFrames, [](DumpWriter& s) {
      s.u32(0);
      s.u32(0);
    });
  });
  EXPECT_RAISES_MSG(read_dump(too_many), ValueError,
                    "the TRACEBACK_FRAMES section has more entries than the 1 tracebacks");
}

// A frame is copied into every traceback that names it: a small file naming one long frame
// many times must be refused before it takes gigabytes.
TEST_F(DumpTest, FramesNamedManyTimesCannotExpandWithoutBound) {
  const RawSnapshot raw = small_raw();
  const std::string long_name(std::size_t{1} << 20, 'f');
  const std::string file = craft([&](DumpWriter& w) {
    write_meta(w, raw);
    write_modules(w, raw);
    write_tracebacks(w, raw);
    write_traces(w, raw);
    write_section(w, Section::kFrames, [&](DumpWriter& s) {
      s.u32(1);
      s.str("a.cpp");
      s.i32(1);
      s.str(long_name);
      s.str("");
      s.u64(0);
    });
    write_section(w, Section::kTracebackFrames, [](DumpWriter& s) {
      s.u32(400);  // 400 MiB of copies from a file of 1 MiB
      for (int i = 0; i < 400; ++i) {
        s.u32(0);
      }
    });
  });
  EXPECT_RAISES_MSG(read_dump(file), ValueError, "its frames would take more than");
}

TEST_F(DumpTest, SectionContentsMustFillTheSectionExactly) {
  const RawSnapshot raw = small_raw();
  const std::string trailing = craft([&](DumpWriter& w) {
    write_section(w, Section::kMeta, [](DumpWriter& s) {
      for (int i = 0; i < 7; ++i) s.u64(0);  // one field too many
    });
    write_modules(w, raw);
    write_tracebacks(w, raw);
    write_traces(w, raw);
  });
  EXPECT_RAISES_MSG(read_dump(trailing), ValueError,
                    "8 unexpected bytes at the end of the META section");
  const std::string short_meta = craft([&](DumpWriter& w) {
    write_section(w, Section::kMeta, [](DumpWriter& s) { s.u64(0); });
    write_modules(w, raw);
    write_tracebacks(w, raw);
    write_traces(w, raw);
  });
  EXPECT_RAISES_MSG(read_dump(short_meta), ValueError,
                    "the META section is shorter than its contents");
}

TEST_F(DumpTest, WhatFollowsTheEndMarker) {
  write_raw(path("a.bin"), small_raw());
  std::string bytes = batteries::testing::read_file(path("a.bin"));
  batteries::testing::write_file(path("b.bin"), bytes + "junk");
  EXPECT_RAISES_MSG(read_dump(path("b.bin")), ValueError, "4 bytes after the end marker");

  const std::string nonempty_end = craft(
      [](DumpWriter& w) { write_section(w, Section::kEnd, [](DumpWriter& s) { s.u32(0); }); });
  EXPECT_RAISES_MSG(read_dump(nonempty_end), ValueError, "the END section is not empty");

  bytes[bytes.size() - 20 + 4] = 1;  // the reserved word of the end section's header
  batteries::testing::write_file(path("c.bin"), bytes);
  EXPECT_RAISES_MSG(read_dump(path("c.bin")), ValueError, "bad header of the END section");
}

}  // namespace
