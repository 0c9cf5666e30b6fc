// Tests of flamegraph_svg and write_flamegraph: the SVG is XML, its boxes and widths match the
// traces, names are escaped, and it renders (in Chromium, when installed) with flame colours.
#include <batteries/errors.hpp>
#include <batteries/tracemalloc/snapshot.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "fs.hpp"
#include "python.hpp"
#include "raises.hpp"

namespace batteries::tracemalloc {
namespace {

using testing::from_hex;
using testing::run_python;
using testing::to_hex;

Frame frame(std::string function, std::string filename, int lineno) {
  return Frame{std::move(filename), lineno, std::move(function), "", 0};
}

// A trace whose stack is given most recent first, as the tracer captures it.
Trace trace(std::size_t size, std::vector<Frame> most_recent_first, Domain domain = 0,
            std::optional<std::size_t> total_nframe = std::nullopt) {
  return Trace{domain, size, Traceback(std::move(most_recent_first), total_nframe)};
}

const Frame kMain = frame("main", "/src/app/main.cpp", 10);
const Frame kRun = frame("run(int)", "/src/app/main.cpp", 4);
const Frame kLoad = frame("load_table(std::string const&)", "/src/app/table.cpp", 31);
const Frame kCache = frame("Cache::grow()", "/src/app/cache.cpp", 77);
const Frame kHelper = frame("helper()", "/src/app/helper.cpp", 5);

// main -> run -> load_table (600 B in 2 blocks), main -> run -> Cache::grow (100 B),
// main -> helper -> Cache::grow (200 B): 1 root + 6 boxes.
Snapshot sample_snapshot() {
  return Snapshot({trace(300, {kLoad, kRun, kMain}), trace(300, {kLoad, kRun, kMain}),
                   trace(100, {kCache, kRun, kMain}), trace(200, {kCache, kHelper, kMain})},
                  16);
}

// One drawn box, as Python's xml.etree reads it back.
struct Box {
  std::string title;
  double x = 0;
  double y = 0;
  double width = 0;
  std::string fill;
  std::string text;
  int depth = 0;
  std::string name;
};

struct Parsed {
  std::vector<Box> boxes;
  std::vector<std::string> texts;  // the <text> elements outside the boxes
};

std::string unhex(const std::string& hex) {
  auto bytes = from_hex(hex);
  EXPECT_TRUE(bytes.has_value()) << hex;
  return bytes.value_or("");
}

class FlamegraphTest : public ::testing::Test {
 protected:
  void SetUp() override { m_dir = testing::make_temp_dir("flamegraph"); }
  void TearDown() override { testing::remove_tree(m_dir); }

  // Writes the SVG to a file and parses it with Python's xml.etree (which fails the test if
  // it is not well-formed XML); nullopt when there is no Python.
  std::optional<Parsed> parse(const std::string& svg) {
    const std::string path = m_dir + "/graph.svg";
    testing::write_file(path, svg);
    const std::string script = fmt::format(R"PY(
import xml.etree.ElementTree as ET
ns = '{{http://www.w3.org/2000/svg}}'
root = ET.parse(bytes.fromhex('{}').decode()).getroot()
assert root.tag == ns + 'svg', root.tag
def h(s):
    return (s or '').encode('utf-8', 'surrogateescape').hex() or '-'
for g in root.iter(ns + 'g'):
    if g.get('class') != 'f':
        continue
    r, t, ti = g.find(ns + 'rect'), g.find(ns + 'text'), g.find(ns + 'title')
    print('B', h(ti.text), r.get('x'), r.get('y'), r.get('width'), h(r.get('fill')), h(t.text),
          g.get('data-d'), h(g.get('data-n')))
for t in root.findall(ns + 'text'):
    print('T', h(t.text))
)PY",
                                           to_hex(path));
    const auto out = run_python(script);
    if (!out) {
      return std::nullopt;
    }
    Parsed parsed;
    std::istringstream lines(*out);
    std::string kind;
    while (lines >> kind) {
      std::string title, fill, text, name;
      if (kind == "T") {
        lines >> text;
        parsed.texts.push_back(text == "-" ? "" : unhex(text));
        continue;
      }
      Box box;
      lines >> title >> box.x >> box.y >> box.width >> fill >> text >> box.depth >> name;
      const auto get = [](const std::string& h) { return h == "-" ? std::string{} : unhex(h); };
      box.title = get(title);
      box.fill = get(fill);
      box.text = get(text);
      box.name = get(name);
      parsed.boxes.push_back(box);
    }
    return parsed;
  }

  std::string m_dir;
};

#define PARSE_OR_SKIP(var, svg)                   \
  const auto var##_opt = parse(svg);              \
  if (!var##_opt) {                               \
    GTEST_SKIP() << "no Python to parse the SVG"; \
  }                                               \
  const Parsed& var = *var##_opt

const Box* find_box(const Parsed& parsed, std::string_view title_prefix, int depth = -1) {
  for (const Box& box : parsed.boxes) {
    if (box.title.rfind(title_prefix, 0) == 0 && (depth < 0 || box.depth == depth)) {
      return &box;
    }
  }
  return nullptr;
}

TEST_F(FlamegraphTest, ParsesAsXmlWithOneBoxPerPlaceInTheTree) {
  const std::string svg = flamegraph_svg(sample_snapshot(), "Live memory of app");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0U);
  PARSE_OR_SKIP(parsed, svg);
  ASSERT_EQ(parsed.boxes.size(), 7U);
  EXPECT_EQ(parsed.boxes[0].name, "all");
  EXPECT_EQ(parsed.boxes[0].title, "all: 900 B, 4 blocks, 100%");
  ASSERT_GE(parsed.texts.size(), 2U);
  EXPECT_EQ(parsed.texts[0], "Live memory of app");
  EXPECT_EQ(parsed.texts[1], "Total: 900 B in 4 blocks");

  const Box* load = find_box(parsed, "load_table(std::string const&) (/src/app/table.cpp:31): ");
  ASSERT_NE(load, nullptr);
  EXPECT_EQ(load->title,
            "load_table(std::string const&) (/src/app/table.cpp:31): 600 B, 2 blocks, 66.67%");
  EXPECT_EQ(load->depth, 3);
  EXPECT_EQ(load->name, "load_table(std::string const&)");
  // Cache::grow() is two boxes: one above run(int), one above helper().
  int grows = 0;
  for (const Box& box : parsed.boxes) {
    grows += box.name == "Cache::grow()" ? 1 : 0;
  }
  EXPECT_EQ(grows, 2);
}

TEST_F(FlamegraphTest, WidthsAreProportionalToBytes) {
  PARSE_OR_SKIP(parsed, flamegraph_svg(sample_snapshot()));
  const Box* all = find_box(parsed, "all:");
  const Box* main = find_box(parsed, "main (");
  const Box* run = find_box(parsed, "run(int) (");
  const Box* helper = find_box(parsed, "helper() (");
  const Box* load = find_box(parsed, "load_table(");
  std::vector<const Box*> grows;
  for (const Box& box : parsed.boxes) {
    if (box.name == "Cache::grow()") {
      grows.push_back(&box);
    }
  }
  ASSERT_EQ(grows.size(), 2U);
  std::sort(grows.begin(), grows.end(), [](const Box* a, const Box* b) { return a->x < b->x; });
  const Box* grow_in_run = grows[0];
  const Box* grow_in_helper = grows[1];
  for (const Box* box : {all, main, run, helper, load, grow_in_run, grow_in_helper}) {
    ASSERT_NE(box, nullptr);
  }
  const double unit = all->width / 900;
  EXPECT_NEAR(all->width, 1180, 0.01);
  EXPECT_NEAR(main->width, 900 * unit, 0.01);
  EXPECT_NEAR(run->width, 700 * unit, 0.01);
  EXPECT_NEAR(helper->width, 200 * unit, 0.01);
  EXPECT_NEAR(load->width, 600 * unit, 0.01);
  EXPECT_NEAR(grow_in_run->width, 100 * unit, 0.01);
  EXPECT_NEAR(grow_in_helper->width, 200 * unit, 0.01);
  // Largest first, children inside their parent, from the left edge of the parent.
  EXPECT_NEAR(run->x, main->x, 0.01);
  EXPECT_NEAR(helper->x, main->x + 700 * unit, 0.01);
  EXPECT_NEAR(load->x, run->x, 0.01);
  EXPECT_NEAR(grow_in_run->x, run->x + 600 * unit, 0.01);
  EXPECT_NEAR(grow_in_helper->x, helper->x, 0.01);
}

TEST_F(FlamegraphTest, LinesOfAFunctionMergeAndTheTooltipNamesThem) {
  std::vector<Trace> traces;
  for (int line = 20; line <= 25; ++line) {
    traces.push_back(trace(10, {kLoad, frame("main", "/src/app/main.cpp", line)}));
  }
  traces.push_back(trace(10, {kCache, frame("main", "/src/app/main.cpp", 20)}));
  traces.push_back(trace(40, {kHelper, frame("", "/src/app/nameless.cpp", 3)}));
  traces.push_back(trace(40, {kHelper, frame("", "/src/app/nameless.cpp", 4)}));
  PARSE_OR_SKIP(parsed, flamegraph_svg(Snapshot(traces, 2)));
  // all, main, load_table, Cache::grow, 2 x nameless.cpp:N, 2 x helper.
  ASSERT_EQ(parsed.boxes.size(), 8U);
  const Box* main = find_box(parsed, "main (");
  ASSERT_NE(main, nullptr);
  EXPECT_EQ(main->title, "main (/src/app/main.cpp:20, 21, 22, 23, ...): 70 B, 7 blocks, 46.67%");
  const Box* load = find_box(parsed, "load_table(");
  ASSERT_NE(load, nullptr);
  EXPECT_EQ(load->title.rfind("load_table(std::string const&) (/src/app/table.cpp:31): 60 B", 0),
            0U);
  const Box* cache = find_box(parsed, "Cache::grow() (");
  ASSERT_NE(cache, nullptr);
  EXPECT_NEAR(cache->x, load->x + load->width, 0.01);
  const Box* nameless = find_box(parsed, "/src/app/nameless.cpp:3: 40 B");
  ASSERT_NE(nameless, nullptr);
  EXPECT_EQ(nameless->name, "nameless.cpp:3");
  EXPECT_NE(find_box(parsed, "/src/app/nameless.cpp:4: 40 B"), nullptr);
}

TEST_F(FlamegraphTest, TheOldestFrameIsAtTheBottom) {
  PARSE_OR_SKIP(parsed, flamegraph_svg(sample_snapshot()));
  const Box* all = find_box(parsed, "all:");
  const Box* main = find_box(parsed, "main (");
  const Box* run = find_box(parsed, "run(int) (");
  const Box* load = find_box(parsed, "load_table(");
  ASSERT_TRUE(all && main && run && load);
  EXPECT_EQ(all->depth, 0);
  EXPECT_EQ(main->depth, 1);
  EXPECT_GT(all->y, main->y);
  EXPECT_GT(main->y, run->y);
  EXPECT_GT(run->y, load->y);
  EXPECT_NEAR(main->y - run->y, 16, 0.01);
}

TEST_F(FlamegraphTest, LabelsFitTheirBoxes) {
  const std::string long_name = "very_long_namespace::" + std::string(300, 'x') + "()";
  // One narrow box (1%), one wide one.
  const Snapshot snapshot({trace(99, {frame(long_name, "/a.cpp", 1), kMain}),
                           trace(1, {frame("tiny_function_name()", "/b.cpp", 2), kMain})},
                          4);
  PARSE_OR_SKIP(parsed, flamegraph_svg(snapshot));
  const Box* big = find_box(parsed, "very_long_namespace::");
  const Box* tiny = find_box(parsed, "tiny_function_name()");
  ASSERT_TRUE(big && tiny);
  EXPECT_LT(big->text.size(), long_name.size());
  EXPECT_EQ(big->text.substr(big->text.size() - 2), "..");
  EXPECT_EQ(big->text.rfind("very_long_namespace::xxx", 0), 0U);
  EXPECT_LE(static_cast<double>(big->text.size()) * 7, big->width);
  EXPECT_EQ(tiny->text, "");  // 11.8 px: no room for a label, the tooltip has it
  EXPECT_EQ(tiny->name, "tiny_function_name()");
}

TEST_F(FlamegraphTest, EscapesXmlSpecialCharactersInNamesAndTitle) {
  const std::string op =
      "std::ostream& operator<< <std::pair<int, char>>(std::ostream&, "
      "std::pair<int, char> const&)";
  const std::string quoted = "f(\"quoted\", 'single', a && b > c)";
  const std::string file = "/src/<weird> & \"odd\" 'dir'/x.cpp";
  const Snapshot snapshot(
      {trace(500, {frame(op, file, 3), kMain}), trace(500, {frame(quoted, "/q.cpp", 7), kMain})},
      4);
  const std::string svg = flamegraph_svg(snapshot, "a < b & \"c\" > 'd'");
  EXPECT_EQ(svg.find("operator<<"), std::string::npos);
  EXPECT_EQ(svg.find("'single'"), std::string::npos);
  EXPECT_NE(svg.find("operator&lt;&lt; &lt;std::pair&lt;int, char&gt;&gt;"), std::string::npos);
  PARSE_OR_SKIP(parsed, svg);
  const Box* op_box = find_box(parsed, op + " (" + file + ":3): ");
  ASSERT_NE(op_box, nullptr);
  EXPECT_EQ(op_box->name, op);
  const Box* quoted_box = find_box(parsed, quoted + " (/q.cpp:7): ");
  ASSERT_NE(quoted_box, nullptr);
  EXPECT_EQ(quoted_box->name, quoted);
  EXPECT_EQ(quoted_box->text.rfind("f(\"quoted\", 'single'", 0), 0U);
  EXPECT_EQ(parsed.texts.at(0), "a < b & \"c\" > 'd'");
}

TEST_F(FlamegraphTest, BytesThatAreNotValidXmlAreReplaced) {
  // A file name is bytes: invalid UTF-8 and control characters must not break the XML.
  const std::string file = std::string("/src/caf\xe9/\x01x\xff.cpp");
  const Snapshot snapshot({trace(64, {frame("", file, 9), frame("ünïcödé_ok()", "/u.cpp", 1)})}, 4);
  PARSE_OR_SKIP(parsed, flamegraph_svg(snapshot));
  ASSERT_EQ(parsed.boxes.size(), 3U);
  EXPECT_EQ(parsed.boxes[1].name, "ünïcödé_ok()");
  // No function name: the label is the file's base name and line.
  EXPECT_EQ(parsed.boxes[2].name, "\xEF\xBF\xBDx\xEF\xBF\xBD.cpp:9");
  EXPECT_EQ(
      parsed.boxes[2].title.rfind("/src/caf\xEF\xBF\xBD/\xEF\xBF\xBDx\xEF\xBF\xBD.cpp:9: ", 0), 0U);
}

TEST_F(FlamegraphTest, FramesWithoutLineInformationShowModuleAndOffset) {
  const Frame unknown{"/usr/lib/libfoo.so", 0, "", "/usr/lib/libfoo.so", 0x1a2b};
  const Frame named{"/usr/lib/libfoo.so", 0, "foo_alloc", "/usr/lib/libfoo.so", 0x1a00};
  const Snapshot snapshot({trace(10, {unknown, kMain}), trace(20, {named, kMain})}, 4);
  PARSE_OR_SKIP(parsed, flamegraph_svg(snapshot));
  const Box* a = find_box(parsed, "/usr/lib/libfoo.so+0x1a2b: ");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "libfoo.so+0x1a2b");
  const Box* b = find_box(parsed, "foo_alloc (/usr/lib/libfoo.so+0x1a00): ");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->name, "foo_alloc");
}

TEST_F(FlamegraphTest, EmptySnapshotSaysThereIsNoLiveMemory) {
  for (const Snapshot& snapshot :
       {Snapshot(), Snapshot({}, 16), Snapshot({trace(0, {kMain})}, 1)}) {
    const std::string svg = flamegraph_svg(snapshot, "Nothing");
    EXPECT_NE(svg.find("no live memory"), std::string::npos);
    PARSE_OR_SKIP(parsed, svg);
    EXPECT_TRUE(parsed.boxes.empty());
    ASSERT_EQ(parsed.texts.size(), 2U);
    EXPECT_EQ(parsed.texts[0], "Nothing");
    EXPECT_EQ(parsed.texts[1].rfind("no live memory", 0), 0U);
  }
}

TEST_F(FlamegraphTest, BoxesUnderAThousandthAreLeftOut) {
  const Snapshot snapshot({trace(1'000'000, {kLoad, kMain}), trace(999, {kCache, kMain}),
                           trace(2000, {kHelper, kMain})},
                          4);
  PARSE_OR_SKIP(parsed, flamegraph_svg(snapshot));
  EXPECT_EQ(find_box(parsed, "Cache::grow()"), nullptr);  // 999 / 1002999 < 0.1%
  EXPECT_NE(find_box(parsed, "helper()"), nullptr);       // 2000 / 1002999 is kept
  ASSERT_NE(find_box(parsed, "main ("), nullptr);
  EXPECT_EQ(find_box(parsed, "main (")->title,
            "main (/src/app/main.cpp:10): 979.5 KiB, 3 blocks, 100.00%");
  EXPECT_EQ(parsed.texts.at(1), "Total: 979.5 KiB in 3 blocks; 1 boxes under 0.1% left out");
}

TEST_F(FlamegraphTest, ColoursAreWarmAndTheSameForTheSameFunction) {
  PARSE_OR_SKIP(parsed, flamegraph_svg(sample_snapshot()));
  std::map<std::string, std::set<std::string>> fills;
  for (const Box& box : parsed.boxes) {
    fills[box.name].insert(box.fill);
    if (box.name == "all") {
      continue;
    }
    int r = 0, g = 0, b = 0;
    ASSERT_EQ(std::sscanf(box.fill.c_str(), "rgb(%d,%d,%d)", &r, &g, &b), 3) << box.fill;
    EXPECT_GE(r, 205) << box.name;
    EXPECT_LE(g, 230) << box.name;
    EXPECT_LE(b, 55) << box.name;
  }
  EXPECT_EQ(fills["Cache::grow()"].size(), 1U);
  EXPECT_NE(*fills["main"].begin(), *fills["run(int)"].begin());
  // Deterministic: another graph gives the function the same colour.
  PARSE_OR_SKIP(again, flamegraph_svg(Snapshot({trace(5, {kCache})}, 1)));
  ASSERT_NE(find_box(again, "Cache::grow()"), nullptr);
  EXPECT_EQ(find_box(again, "Cache::grow()")->fill, *fills["Cache::grow()"].begin());
}

TEST_F(FlamegraphTest, UserDomainsAndTruncatedStacksGetPseudoFrames) {
  const Snapshot snapshot(
      {trace(100, {kLoad, kMain}), trace(50, {kCache, kMain}, 7), trace(50, {kLoad, kRun}, 0, 9)},
      2);
  PARSE_OR_SKIP(parsed, flamegraph_svg(snapshot));
  const Box* domain = find_box(parsed, "[domain 7] (traces of a user domain, see track()): 50 B");
  ASSERT_NE(domain, nullptr);
  EXPECT_EQ(domain->depth, 1);
  EXPECT_NE(find_box(parsed, "Cache::grow() (", 3), nullptr);
  const Box* truncated = find_box(parsed, "[truncated] (stacks cut to the traceback limit): ");
  ASSERT_NE(truncated, nullptr);
  EXPECT_EQ(truncated->depth, 1);
  EXPECT_NE(find_box(parsed, "run(int) (", 2), nullptr);
  EXPECT_NE(find_box(parsed, "main (", 1), nullptr);
}

TEST_F(FlamegraphTest, WriteFlamegraphWritesTheSvg) {
  const std::string path = m_dir + "/out.svg";
  write_flamegraph(sample_snapshot(), path, "Title");
  EXPECT_EQ(testing::read_file(path), flamegraph_svg(sample_snapshot(), "Title"));
  EXPECT_RAISES(write_flamegraph(sample_snapshot(), m_dir + "/missing/out.svg"), FileNotFoundError);
  EXPECT_RAISES(write_flamegraph(sample_snapshot(), m_dir), IsADirectoryError);
}

std::optional<std::string> find_chromium() {
  if (const char* env = std::getenv("BATTERIES_CHROMIUM"); env != nullptr && *env != '\0') {
    return env;
  }
  for (const char* path : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (::access(path, X_OK) == 0) {
      return std::string(path);
    }
  }
  return std::nullopt;
}

// Decodes a PNG (8-bit RGB or RGBA, not interlaced) with zlib and struct only, and prints its
// size and the colours of `wanted` (hex RGB) that occur in it, give or take 2 per channel.
constexpr const char* kPngScript = R"PY(
import struct, zlib
data = open(bytes.fromhex('{}').decode(), 'rb').read()
wanted = [bytes.fromhex(c) for c in '{}'.split()]
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat = 8, b''
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    pos += 12 + n
    if kind == b'IHDR':
        w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', body)
    elif kind == b'IDAT':
        idat += body
    elif kind == b'IEND':
        break
assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
prev, colours, i = bytearray(stride), set(), 0
for y in range(h):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    colours.update(bytes(line[x:x + 3]) for x in range(0, stride, bpp))
    prev = line
found = [c.hex() for c in wanted
         if any(all(abs(p[k] - c[k]) <= 2 for k in range(3)) for p in colours)]
print(w, h, len(colours), ' '.join(found) or '-')
)PY";

TEST_F(FlamegraphTest, RendersInChromiumWithFlameColours) {
  const auto chromium = find_chromium();
  if (!chromium) {
    GTEST_SKIP() << "no chromium to render the SVG (apt-get install chromium)";
  }
  const std::string svg_path = m_dir + "/graph.svg";
  const std::string png_path = m_dir + "/graph.png";
  const std::string log_path = m_dir + "/chromium.log";
  write_flamegraph(sample_snapshot(), svg_path, "Rendered by Chromium");
  // Chromium wants a writable HOME for its profile; the temporary directory serves.
  const std::string command = fmt::format(
      "HOME='{0}' timeout 60 '{1}' --headless --no-sandbox --disable-gpu --hide-scrollbars "
      "--screenshot='{2}' --window-size=1200,800 'file://{3}' >'{4}' 2>&1",
      m_dir, *chromium, png_path, svg_path, log_path);
  const int status = std::system(command.c_str());
  ASSERT_EQ(status, 0) << command << "\n" << testing::read_file(log_path);
  ASSERT_EQ(::access(png_path.c_str(), R_OK), 0) << testing::read_file(log_path);

  const auto parsed = parse(flamegraph_svg(sample_snapshot(), "Rendered by Chromium"));
  if (!parsed) {
    GTEST_SKIP() << "no Python to decode the PNG";
  }
  std::set<std::string> fills;
  for (const Box& box : parsed->boxes) {
    int r = 0, g = 0, b = 0;
    if (std::sscanf(box.fill.c_str(), "rgb(%d,%d,%d)", &r, &g, &b) == 3 && box.name != "all") {
      fills.insert(fmt::format("{:02x}{:02x}{:02x}", r, g, b));
    }
  }
  ASSERT_GE(fills.size(), 4U);
  const auto out = run_python(fmt::format(kPngScript, to_hex(png_path), fmt::join(fills, " ")));
  ASSERT_TRUE(out.has_value());
  int width = 0, height = 0, colours = 0;
  char found[4096] = {};
  ASSERT_EQ(std::sscanf(out->c_str(), "%d %d %d %4095[^\n]", &width, &height, &colours, found), 4)
      << *out;
  EXPECT_EQ(width, 1200);
  EXPECT_EQ(height, 800);
  EXPECT_GE(colours, 10) << "a blank page?";
  // Every function's flame colour is on the page.
  const auto found_fills = testing::split(found, ' ');
  EXPECT_EQ(std::set<std::string>(found_fills.begin(), found_fills.end()), fills) << *out;
}

}  // namespace
}  // namespace batteries::tracemalloc
