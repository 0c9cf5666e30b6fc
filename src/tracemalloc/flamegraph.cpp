// Flame graphs of a snapshot's live memory: a standalone SVG, one box per frame, width ∝ bytes.
//
// The layout follows Brendan Gregg's flame graphs: the root ("all") at the bottom, each trace's
// traceback stacked on it from the oldest frame up to the allocating one. Frames of one
// function (and file) merge whatever their line, so that a box's width is all the memory
// allocated through that function from there; its tooltip names the lines. A frame without a
// function name is a box per line (or per module offset). Siblings are sorted largest first. A box
// narrower than 0.1% of the total is left out with its subtree. Two pseudo-frames keep apart what
// would otherwise mislead: "[domain N]" above the root for the traces of a user domain (track()),
// and "[truncated]" under stacks that were cut to the traceback limit (their oldest frames are
// missing).
#include <batteries/errors.hpp>
#include <batteries/tracemalloc/snapshot.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

namespace batteries::tracemalloc {

namespace {

constexpr double kWidth = 1200;  // of the image, in pixels
constexpr double kPad = 10;      // left and right margins
constexpr double kGraphWidth = kWidth - 2 * kPad;
constexpr double kFrameHeight = 16;      // one level of the stack
constexpr double kGraphTop = 56;         // below the title and the total line
constexpr double kBottomPad = 24;        // room for the hint line
constexpr double kCharWidth = 7.0;       // average width of a 12px Verdana glyph
constexpr std::size_t kMinPermille = 1;  // boxes under 1/1000 of the total are left out

// ---- text: valid UTF-8 out of any bytes, XML-escaped, cut to fit ----------------------------

// Decodes UTF-8, replacing each byte that does not start a valid sequence, and each code point
// XML 1.0 forbids (controls, surrogates, U+FFFE/U+FFFF), by U+FFFD: file names are bytes and
// an SVG with one bad byte would not open at all.
std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    char32_t cp = 0xFFFD;
    std::size_t len = 1;
    if (b < 0x80) {
      cp = b;
    } else {
      std::size_t need = 0;
      char32_t min = 0;
      if ((b & 0xE0) == 0xC0) {
        need = 1, cp = b & 0x1Fu, min = 0x80;
      } else if ((b & 0xF0) == 0xE0) {
        need = 2, cp = b & 0x0Fu, min = 0x800;
      } else if ((b & 0xF8) == 0xF0) {
        need = 3, cp = b & 0x07u, min = 0x10000;
      }
      bool ok = need > 0;
      for (std::size_t k = 1; ok && k <= need; ++k) {
        if (i + k >= s.size()) {
          ok = false;
          break;
        }
        const auto c = static_cast<unsigned char>(s[i + k]);
        if ((c & 0xC0) != 0x80) {
          ok = false;
        } else {
          cp = (cp << 6) | (c & 0x3Fu);
        }
      }
      if (ok && cp >= min && cp <= 0x10FFFF) {
        len = need + 1;
      } else {
        cp = 0xFFFD;
      }
    }
    const bool allowed = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp < 0xD800) ||
                         (cp >= 0xE000 && cp < 0xFFFE) || cp >= 0x10000;
    out.push_back(allowed ? cp : char32_t{0xFFFD});
    i += len;
  }
  return out;
}

// Appends the first `limit` code points of `text`, escaped for XML text and attribute values.
void append_escaped(std::string& out, const std::u32string& text,
                    std::size_t limit = std::u32string::npos) {
  const std::size_t n = std::min(limit, text.size());
  for (std::size_t i = 0; i < n; ++i) {
    switch (const char32_t cp = text[i]) {
      case U'&':
        out += "&amp;";
        break;
      case U'<':
        out += "&lt;";
        break;
      case U'>':
        out += "&gt;";
        break;
      case U'"':
        out += "&quot;";
        break;
      case U'\'':
        out += "&#39;";
        break;
      case U'\n':
      case U'\r':
      case U'\t':
        out += fmt::format("&#{};", static_cast<std::uint32_t>(cp));
        break;
      default:
        // Non-ASCII as character references: the SVG stays ASCII whatever the names hold.
        if (cp < 0x80) {
          out += static_cast<char>(cp);
        } else {
          out += fmt::format("&#x{:X};", static_cast<std::uint32_t>(cp));
        }
    }
  }
}

std::string escape(std::string_view text) {
  std::string out;
  append_escaped(out, decode_utf8(text));
  return out;
}

// A label cut to what fits in `width` pixels, ending in ".." when cut; "" when not even three
// characters fit.
std::string fit_label(const std::u32string& label, double width) {
  const double room = (width - 6) / kCharWidth;
  if (room < 3) {
    return {};
  }
  const auto chars = static_cast<std::size_t>(room);
  std::string out;
  if (label.size() <= chars) {
    append_escaped(out, label);
  } else {
    append_escaped(out, label, chars - 2);
    out += "..";
  }
  return out;
}

std::string format_size(std::size_t size) {
  if (size < 1024) {
    return fmt::format("{} B", size);
  }
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  auto value = static_cast<double>(size) / 1024;
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string_view basename(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// ---- the tree of stacks -----------------------------------------------------------------------

// What a box stands for: a function of one file (or module), or, for a frame without a
// function name, one line (or one offset). Lines of a function merge, as in flamegraph.pl.
struct Place {
  std::u32string label;
  std::string function;    // for a pseudo-frame, its label
  std::string base;        // the file, or the module when there is no line; for a pseudo-frame,
                           // what it means
  bool by_offset = false;  // sites are offsets in the module, not line numbers
  bool pseudo = false;     // "[domain N]", "[truncated]": grey
};

constexpr std::size_t kMaxSites = 4;  // lines (or offsets) named in a tooltip

struct Node {
  std::uint32_t place;  // index into the places; unused for the root
  std::size_t size = 0;
  std::size_t count = 0;
  std::vector<std::uint32_t> children;
  std::vector<std::uint64_t> sites;  // sorted; at most kMaxSites
  bool more_sites = false;
};

constexpr std::uint32_t kNoPlace = 0xFFFFFFFF;
constexpr std::uint64_t kNoSite = ~std::uint64_t{0};

class Tree {
 public:
  Tree() { m_nodes.push_back({kNoPlace, 0, 0, {}, {}, false}); }

  void add(const Trace& trace) {
    const std::vector<Step>& path = path_of(trace);
    std::uint32_t node = 0;
    m_nodes[0].size += trace.size;
    m_nodes[0].count += 1;
    for (const Step& step : path) {
      node = child(node, step.place);
      Node& n = m_nodes[node];
      n.size += trace.size;
      n.count += 1;
      if (step.site != kNoSite) {
        const auto at = std::lower_bound(n.sites.begin(), n.sites.end(), step.site);
        if (at == n.sites.end() || *at != step.site) {
          if (n.sites.size() < kMaxSites) {
            n.sites.insert(at, step.site);
          } else {
            n.more_sites = true;
          }
        }
      }
    }
  }

  [[nodiscard]] const std::vector<Node>& nodes() const noexcept { return m_nodes; }
  [[nodiscard]] const Place& place(std::uint32_t i) const { return m_places[i]; }

 private:
  struct Step {
    std::uint32_t place;
    std::uint64_t site;  // line number or offset; kNoSite when none
  };

  // The steps of a trace's stack, oldest first, pseudo-frames included. Traces that share a
  // traceback share its frames' storage, so the path is computed once per traceback.
  const std::vector<Step>& path_of(const Trace& trace) {
    const std::vector<Frame>& frames = trace.traceback.frames();
    const bool truncated = trace.traceback.total_nframe().has_value() &&
                           *trace.traceback.total_nframe() > frames.size();
    const PathKey key{&frames, trace.domain, truncated};
    auto it = m_paths.find(key);
    if (it != m_paths.end()) {
      return it->second;
    }
    std::vector<Step> path;
    path.reserve(frames.size() + 2);
    if (trace.domain != kDefaultDomain) {
      path.push_back(
          {pseudo(fmt::format("[domain {}]", trace.domain), "traces of a user domain, see track()"),
           kNoSite});
    }
    if (truncated) {
      path.push_back({pseudo("[truncated]", "stacks cut to the traceback limit"), kNoSite});
    }
    for (const Frame& frame : frames) {
      path.push_back(intern(frame));
    }
    return m_paths.emplace(key, std::move(path)).first->second;
  }

  std::uint32_t add_place(std::string key, Place place) {
    auto it = m_place_index.find(key);
    if (it != m_place_index.end()) {
      return it->second;
    }
    m_places.push_back(std::move(place));
    return m_place_index.emplace(std::move(key), static_cast<std::uint32_t>(m_places.size() - 1))
        .first->second;
  }

  std::uint32_t pseudo(const std::string& label, const std::string& what) {
    return add_place("\x1e" + label, {decode_utf8(label), label, what, false, true});
  }

  Step intern(const Frame& frame) {
    const bool by_line = frame.lineno > 0;
    const bool by_offset = !by_line && !frame.module.empty();
    const std::string& base = by_line || frame.module.empty() ? frame.filename : frame.module;
    const std::uint64_t site = by_line     ? static_cast<std::uint64_t>(frame.lineno)
                               : by_offset ? frame.offset
                                           : kNoSite;
    if (!frame.function.empty()) {
      std::string key = fmt::format("F{}\x1f{}\x1f{}", frame.function, base, by_offset);
      if (m_place_index.find(key) == m_place_index.end()) {
        Place place{decode_utf8(frame.function), frame.function, base, by_offset, false};
        return {add_place(std::move(key), std::move(place)), site};
      }
      return {m_place_index[key], site};
    }
    // No function: each line (or offset) is a place of its own, labelled by it.
    std::string label;
    if (by_line) {
      label = fmt::format("{}:{}", basename(base), frame.lineno);
    } else if (by_offset) {
      label = fmt::format("{}+{:#x}", basename(base), frame.offset);
    } else {
      label = base.empty() ? "??" : std::string(basename(base));
    }
    std::string key = fmt::format("P{}\x1f{}\x1f{}", base, by_offset, site);
    return {add_place(std::move(key), {decode_utf8(label), {}, base, by_offset, false}), site};
  }

  std::uint32_t child(std::uint32_t parent, std::uint32_t place) {
    const std::uint64_t key = (std::uint64_t{parent} << 32) | place;
    auto it = m_edges.find(key);
    if (it != m_edges.end()) {
      return it->second;
    }
    const auto index = static_cast<std::uint32_t>(m_nodes.size());
    m_nodes.push_back({place, 0, 0, {}, {}, false});
    m_nodes[parent].children.push_back(index);
    m_edges.emplace(key, index);
    return index;
  }

  struct PathKey {
    const void* frames;
    Domain domain;
    bool truncated;
    bool operator==(const PathKey&) const = default;
  };
  struct PathKeyHash {
    std::size_t operator()(const PathKey& k) const noexcept {
      return std::hash<const void*>{}(k.frames) ^ (std::size_t{k.domain} << 1) ^
             (k.truncated ? 0x9e3779b9u : 0u);
    }
  };

  std::vector<Node> m_nodes;
  std::vector<Place> m_places;
  std::unordered_map<std::string, std::uint32_t> m_place_index;
  std::unordered_map<std::uint64_t, std::uint32_t> m_edges;
  std::unordered_map<PathKey, std::vector<Step>, PathKeyHash> m_paths;
};

// Where a box's code is, for its tooltip: "file:12", "file:12, 40", "module+0x1a2b", "file".
std::string location(const Place& place, const Node& node) {
  std::string out = place.base.empty() ? std::string("??") : place.base;
  for (std::size_t i = 0; i < node.sites.size(); ++i) {
    if (place.by_offset) {
      out += fmt::format("{}+{:#x}", i == 0 ? "" : ", ", node.sites[i]);
    } else {
      out += fmt::format("{}{}", i == 0 ? ":" : ", ", node.sites[i]);
    }
  }
  if (node.more_sites) {
    out += ", ...";
  }
  return out;
}

// ---- drawing ----------------------------------------------------------------------------------

// A warm colour (reds, oranges, yellows) that depends only on the name, so that a function has
// the same colour in every graph.
std::string warm_colour(std::string_view name) {
  std::uint64_t h = 0xcbf29ce484222325u;  // FNV-1a
  for (const char c : name) {
    h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3u;
  }
  const auto part = [&](int shift) { return static_cast<double>((h >> shift) & 0xFFFF) / 65536; };
  const int r = 205 + static_cast<int>(50 * part(0));
  const int g = static_cast<int>(230 * part(16));
  const int b = static_cast<int>(55 * part(32));
  return fmt::format("rgb({},{},{})", r, g, b);
}

constexpr std::string_view kScript = R"JS(
var W = 1180, X0 = 10, boxes = [].slice.call(document.querySelectorAll('g.f'));
var reset = document.getElementById('reset');
function fit(g, x, w) {
  var r = g.querySelector('rect'), t = g.querySelector('text'), n = g.getAttribute('data-n');
  r.setAttribute('x', x); r.setAttribute('width', w); t.setAttribute('x', x + 3);
  var c = Math.floor((w - 6) / 7);
  t.textContent = c < 3 ? '' : (n.length <= c ? n : n.slice(0, c - 2) + '..');
}
function zoom(z) {
  var s = W / z.ow, e = 0.001;
  boxes.forEach(function (g) {
    var inside = g.ox >= z.ox - e && g.ox + g.ow <= z.ox + z.ow + e;
    var around = g.ox <= z.ox + e && g.ox + g.ow >= z.ox + z.ow - e;
    if (g.d >= z.d && inside) { fit(g, X0 + (g.ox - z.ox) * s, g.ow * s); g.style.display = ''; g.style.opacity = ''; }
    else if (g.d < z.d && around) { fit(g, X0, W); g.style.display = ''; g.style.opacity = '0.5'; }
    else { g.style.display = 'none'; }
  });
  reset.style.display = z.d == 0 ? 'none' : '';
}
boxes.forEach(function (g) {
  var r = g.querySelector('rect');
  g.ox = +r.getAttribute('x'); g.ow = +r.getAttribute('width'); g.d = +g.getAttribute('data-d');
  g.onclick = function () { zoom(g); };
});
reset.onclick = function () { zoom(boxes[0]); };
)JS";

void header(std::string& out, double height, std::string_view title) {
  fmt::format_to(std::back_inserter(out),
                 "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{0}\" "
                 "height=\"{1}\" viewBox=\"0 0 {0} {1}\" font-family=\"Verdana, sans-serif\">\n"
                 "<defs><linearGradient id=\"bg\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">"
                 "<stop stop-color=\"#eeeeee\" offset=\"5%\"/>"
                 "<stop stop-color=\"#eeeeb0\" offset=\"95%\"/></linearGradient></defs>\n"
                 "<style>g.f:hover rect {{ stroke: #000; stroke-width: 0.5; cursor: pointer; }}"
                 " text {{ pointer-events: none; }}</style>\n"
                 "<rect x=\"0\" y=\"0\" width=\"{0}\" height=\"{1}\" fill=\"url(#bg)\"/>\n"
                 "<text x=\"{2}\" y=\"24\" font-size=\"17\" text-anchor=\"middle\">{3}</text>\n",
                 kWidth, height, kWidth / 2, escape(title));
}

}  // namespace

std::string flamegraph_svg(const Snapshot& snapshot, std::string_view title) {
  Tree tree;
  for (const Trace& trace : snapshot.traces()) {
    tree.add(trace);
  }
  const std::vector<Node>& nodes = tree.nodes();
  const Node& root = nodes[0];
  std::string out;

  if (root.size == 0) {
    header(out, kGraphTop + 2 * kFrameHeight + kBottomPad, title);
    fmt::format_to(std::back_inserter(out),
                   "<text x=\"{}\" y=\"{}\" font-size=\"14\" text-anchor=\"middle\">"
                   "no live memory ({} traces)</text>\n</svg>\n",
                   kWidth / 2, kGraphTop + kFrameHeight, root.count);
    return out;
  }

  // Lay the boxes out: x in bytes from the left, depth from the root. Boxes under the
  // threshold are left out with everything above them.
  struct Box {
    std::uint32_t node;
    std::size_t offset;  // bytes left of the box
    std::size_t depth;
  };
  std::vector<Box> boxes;
  std::size_t omitted = 0;
  std::size_t max_depth = 0;
  const auto too_small = [&](std::size_t size) { return size * 1000 < root.size * kMinPermille; };
  std::vector<Box> stack{{0, 0, 0}};
  while (!stack.empty()) {
    const Box box = stack.back();
    stack.pop_back();
    boxes.push_back(box);
    max_depth = std::max(max_depth, box.depth);
    std::vector<std::uint32_t> children = nodes[box.node].children;
    std::sort(children.begin(), children.end(), [&](std::uint32_t a, std::uint32_t b) {
      if (nodes[a].size != nodes[b].size) {
        return nodes[a].size > nodes[b].size;
      }
      return tree.place(nodes[a].place).label < tree.place(nodes[b].place).label;
    });
    std::size_t offset = box.offset;
    std::vector<Box> next;
    for (const std::uint32_t c : children) {
      if (too_small(nodes[c].size)) {
        ++omitted;
      } else {
        next.push_back({c, offset, box.depth + 1});
      }
      offset += nodes[c].size;
    }
    // Pushed in reverse so that boxes are written left to right.
    stack.insert(stack.end(), next.rbegin(), next.rend());
  }

  const double height = kGraphTop + static_cast<double>(max_depth + 1) * kFrameHeight + kBottomPad;
  header(out, height, title);
  fmt::format_to(std::back_inserter(out),
                 "<text x=\"{}\" y=\"44\" font-size=\"12\">Total: {} in {} blocks", kPad,
                 format_size(root.size), root.count);
  if (snapshot.sample_rate() != 0) {
    fmt::format_to(std::back_inserter(out), ", sampled every {} bytes (sizes are estimates)",
                   snapshot.sample_rate());
  }
  if (omitted != 0) {
    fmt::format_to(std::back_inserter(out), "; {} boxes under 0.1% left out", omitted);
  }
  out += "</text>\n";
  fmt::format_to(std::back_inserter(out),
                 "<text id=\"reset\" x=\"{}\" y=\"44\" font-size=\"12\" text-anchor=\"end\" "
                 "style=\"display:none;cursor:pointer\">Reset zoom</text>\n",
                 kWidth - kPad);

  const auto total = static_cast<double>(root.size);
  for (const Box& box : boxes) {
    const Node& node = nodes[box.node];
    const double x = kPad + static_cast<double>(box.offset) / total * kGraphWidth;
    const double w = static_cast<double>(node.size) / total * kGraphWidth;
    const double y = kGraphTop + static_cast<double>(max_depth - box.depth) * kFrameHeight;
    const double percent = static_cast<double>(node.size) * 100 / total;
    std::u32string label;
    std::string tooltip;
    std::string colour;
    if (box.node == 0) {
      label = U"all";
      tooltip = fmt::format("all: {}, {} blocks, 100%", format_size(node.size), node.count);
      colour = "rgb(200,200,200)";
    } else {
      const Place& place = tree.place(node.place);
      label = place.label;
      const std::string where = place.pseudo ? place.base : location(place, node);
      tooltip = place.function.empty() ? fmt::format("{}: ", where)
                                       : fmt::format("{} ({}): ", place.function, where);
      tooltip += fmt::format("{}, {} blocks, {:.2f}%", format_size(node.size), node.count, percent);
      colour = place.pseudo ? "rgb(190,190,190)"
                            : warm_colour(place.function.empty() ? place.base : place.function);
    }
    out += "<g class=\"f\" data-d=\"";
    fmt::format_to(std::back_inserter(out), "{}\" data-n=\"", box.depth);
    append_escaped(out, label);
    out += "\"><title>";
    out += escape(tooltip);
    fmt::format_to(std::back_inserter(out),
                   "</title><rect x=\"{:.3f}\" y=\"{}\" width=\"{:.3f}\" height=\"{}\" "
                   "fill=\"{}\" rx=\"2\" ry=\"2\"/><text x=\"{:.3f}\" y=\"{}\" font-size=\"12\">",
                   x, y, w, kFrameHeight - 1, colour, x + 3, y + 11.5);
    out += fit_label(label, w);
    out += "</text></g>\n";
  }
  fmt::format_to(std::back_inserter(out),
                 "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#555\">Width is live bytes; "
                 "hover for details, click a box to zoom.</text>\n",
                 kPad, height - 8);
  out += "<script type=\"text/ecmascript\"><![CDATA[";
  out += kScript;
  out += "]]></script>\n</svg>\n";
  return out;
}

void write_flamegraph(const Snapshot& snapshot, const std::string& filename,
                      std::string_view title) {
  const std::string svg = flamegraph_svg(snapshot, title);
  const int fd = ::open(filename.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    raise_errno(filename);
  }
  std::size_t done = 0;
  while (done < svg.size()) {
    const ssize_t n = ::write(fd, svg.data() + done, svg.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int saved = errno;
      ::close(fd);
      raise_os_error(saved, filename);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 && errno != EINTR) {
    raise_errno(filename);
  }
}

}  // namespace batteries::tracemalloc
