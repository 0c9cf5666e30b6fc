// Differential tests of the pathlib text codecs against CPython's bytes.decode/str.encode.
//
// The codecs behind Path.read_text/write_text are compared with Python on results and
// exception messages, for every error handler. One python3 run per group of tests generates
// the cases with a fixed seed (systematic UTF-8 lead/continuation combinations, truncated and
// overlong sequences, encoded surrogates, random byte strings, random texts with escaped
// bytes, every encoding name Python knows) and prints one tab-separated line per case: the
// group (for names, with the module Python's lookup reaches), what to do (d: decode,
// e: encode, n: len), then encoding, errors and input, hex-encoded, then the outcome:
// "=hex" for the result (a decoded str as batteries text, which is its surrogateescape
// UTF-8), "!Type:hexmessage" for an exception, or "?" for a decoded str that batteries text
// cannot hold (a lone surrogate outside U+DC80..U+DCFF).
#include <batteries/errors.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pathlib/codecs.hpp"
#include "python.hpp"
#include "raises.hpp"

namespace batteries::pathlib::detail {
namespace {

constexpr const char* k_script = R"PY(
import codecs, encodings.aliases, random, sys

lines = []

def hx(b):
    return b.hex()

def failure(e):
    return '!' + type(e).__name__ + ':' + str(e).encode('utf-8', 'surrogateescape').hex()

def decoded(data, enc, err):
    try:
        s = data.decode(enc, err)
    except Exception as e:
        return failure(e)
    try:
        return '=' + s.encode('utf-8', 'surrogateescape').hex()
    except UnicodeEncodeError:
        return '?'

def encoded(text, enc, err):
    s = text.decode('utf-8', 'surrogateescape')
    try:
        return '=' + s.encode(enc, err).hex()
    except Exception as e:
        return failure(e)

def emit(op, enc, err, data):
    res = decoded(data, enc, err) if op == 'd' else encoded(data, enc, err)
    lines.append('\t'.join((GROUP, op, hx(enc.encode()), hx(err.encode()), hx(data), res)))

def emit_len(text):
    n = len(text.decode('utf-8', 'surrogateescape'))
    lines.append('\t'.join((GROUP, 'n', '', '', hx(text), '=%x' % n)))

DEC_HANDLERS = ['strict', 'replace', 'ignore', 'backslashreplace', 'surrogateescape',
                'surrogatepass', 'xmlcharrefreplace', 'bogus']
ENC_HANDLERS = ['strict', 'replace', 'ignore', 'backslashreplace', 'xmlcharrefreplace',
                'surrogateescape', 'surrogatepass', 'namereplace', 'bogus']

VALID = [c.encode() for c in ['a', '\x00', '\x7f', '\x80', '\xe9', '\u07ff', '\u0800', '\u20ac',
         '\ud7ff', '\ue000', '\ufeff', '\uffff', '\U00010000', '\U0001f600', '\U0010ffff']]
MULTI = [v for v in VALID if len(v) > 1]
BAD = [bytes([x]) for x in (0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0,
                            0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8,
                            0xfc, 0xfe, 0xff)]
SECOND = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xed, 0xff]

# Byte strings for UTF-8: valid characters, bytes that cannot start or continue one,
# truncated sequences and ASCII runs of every length the 8-byte fast path meets.
def random_utf8(R, max_parts):
    parts = []
    for _ in range(R.randint(0, max_parts)):
        r = R.random()
        if r < 0.25:
            parts.append(R.choice(VALID))
        elif r < 0.45:
            parts.append(R.choice(BAD))
        elif r < 0.6:
            m = R.choice(MULTI)
            parts.append(m[:R.randint(1, len(m) - 1)])
        elif r < 0.75:
            parts.append(b'x' * R.randint(1, 19))
        else:
            parts.append(bytes([R.randint(0, 255)]))
    return b''.join(parts)

def utf8_inputs(R):
    out = [bytes([b]) for b in range(256)]
    for lead in range(0xc0, 0x100):
        for b2 in SECOND:
            for tail in (b'', b'\x80', b'\x80\x80', b'A', b'\x80A', b'\xbf\xbf\xbf'):
                out.append(bytes([lead, b2]) + tail)
    for m in MULTI:
        for cut in range(1, len(m)):
            out += [m[:cut], m[:cut] + b'A', b'A' + m[:cut], m[:cut] + m]
    out += [b'\xed\xa0\x80', b'\xed\xb2\x80', b'\xed\xbf\xbf\xed\xb3\xbf', b'\xc0\x80',
            b'\xe0\x80\x80', b'\xf0\x80\x80\x80', b'\xf4\x90\x80\x80', b'\xf8\x88\x80\x80\x80']
    out += [random_utf8(R, 8) for _ in range(1200)]
    out += [random_utf8(R, 40) for _ in range(150)]
    return out

# batteries texts: valid characters of every length, Latin-1 and ASCII runs, escaped bytes
# (which may happen to join into valid sequences: the text is what it is).
def random_text(R, max_parts, alphabet=None):
    parts = []
    for _ in range(R.randint(0, max_parts)):
        r = R.random()
        if alphabet is not None and r < 0.5:
            parts.append(R.choice(alphabet).encode())
        elif r < 0.2:
            parts.append(b'x' * R.randint(1, 19))
        elif r < 0.35:
            parts.append(chr(R.randint(0x80, 0xff)).encode())
        elif r < 0.5:
            parts.append(chr(R.choice([R.randint(0x100, 0x7ff), R.randint(0x800, 0xd7ff),
                                       R.randint(0xe000, 0xffff)])).encode())
        elif r < 0.6:
            parts.append(chr(R.randint(0x10000, 0x10ffff)).encode())
        elif r < 0.85:
            parts.append(bytes([R.randint(0x80, 0xff)]))
        else:
            parts.append(bytes([R.randint(0x00, 0x7f)]))
    return b''.join(parts)

def texts(R, count):
    fixed = [b'', b'abc', b'\xff', b'a\xff', b'\xed\xa0\x80', b'\xe2\x82', b'\xc3\xa9\xff\xfe\xc3']
    return fixed + [random_text(R, 8) for _ in range(count)] + \
        [random_text(R, 40) for _ in range(count // 8)]

def group_utf8():
    R = random.Random(1)
    inputs = utf8_inputs(R)
    for data in inputs:
        for err in DEC_HANDLERS:
            emit('d', 'utf-8', err, data)
    for data in inputs[::7]:
        for err in ('strict', 'replace', 'surrogateescape'):
            emit('d', 'utf-8-sig', err, b'\xef\xbb\xbf' + data)
            emit('d', 'utf-8-sig', err, data)
    for t in texts(R, 300):
        for err in ENC_HANDLERS:
            emit('e', 'utf-8', err, t)
        for err in ('strict', 'surrogateescape'):
            emit('e', 'utf-8-sig', err, t)

def group_count():
    R = random.Random(2)
    for t in texts(R, 300) + utf8_inputs(R)[::3]:
        emit_len(t)

UNITS16 = [0x0041, 0x00e9, 0x20ac, 0xd800, 0xdbff, 0xdc00, 0xdc80, 0xdcff, 0xdfff, 0xfeff, 0xfffe]
UNITS32 = [0x41, 0xe9, 0x1f600, 0x10ffff, 0x110000, 0xd800, 0xdcff, 0xfeff, 0xfffe0000,
           0xffffffff, 0x7f000000]

def random_units(R, units, width, order):
    data = b''.join(R.choice(units).to_bytes(width, order) for _ in range(R.randint(0, 5)))
    if R.random() < 0.3:
        data += bytes(R.randint(0, 255) for _ in range(R.randint(1, width - 1)))
    if R.random() < 0.2:
        data = R.choice([b'\xff\xfe', b'\xfe\xff', b'\xff\xfe\x00\x00', b'\x00\x00\xfe\xff']) + data
    return data

def group_builtin():
    R = random.Random(3)
    for t in texts(R, 150):
        for enc in ('ascii', 'latin-1', 'utf-16', 'utf-16-le', 'utf-16-be', 'utf-32',
                    'utf-32-le', 'utf-32-be'):
            for err in ENC_HANDLERS:
                emit('e', enc, err, t)
    for _ in range(300):
        data = random_utf8(R, 6)
        for enc in ('ascii', 'latin-1'):
            for err in DEC_HANDLERS:
                emit('d', enc, err, data)
    for _ in range(500):
        order = R.choice(['little', 'big'])
        d16 = random_units(R, UNITS16, 2, order)
        d32 = random_units(R, UNITS32, 4, order)
        for err in DEC_HANDLERS:
            for enc in ('utf-16', 'utf-16-le', 'utf-16-be'):
                emit('d', enc, err, d16)
            for enc in ('utf-32', 'utf-32-le', 'utf-32-be'):
                emit('d', enc, err, d32)

# Codecs through iconv whose glibc tables are Python's, with the characters each one has.
SINGLE = ['cp1252', 'koi8-r', 'iso8859-5', 'cp437', 'cp850', 'latin2', 'windows-1251']
MULTIBYTE = {
    'shift_jis': 'あいうアイウ漢字日本語\\~｡ｱ',
    'euc-jp': 'あいうアイウ漢字日本語｡ｱ',
    'gb2312': '中文汉字简体',
    'cp949': '한국어조선글',
    'iso2022_jp': 'あいう漢字日本語',
}

def group_iconv():
    R = random.Random(4)
    for enc in SINGLE:
        chars = [b.decode(enc, 'ignore') for b in (bytes([x]) for x in range(0x80, 0x100))]
        chars = [c for c in chars if c]
        for x in range(256):
            emit('d', enc, 'strict', bytes([x]))
        for _ in range(60):
            data = bytes(R.randint(0, 255) for _ in range(R.randint(0, 6)))
            for err in DEC_HANDLERS:
                emit('d', enc, err, data)
            t = random_text(R, 6, chars)
            for err in ENC_HANDLERS[:-2] + ['bogus']:
                emit('e', enc, err, t)
    for enc, alphabet in MULTIBYTE.items():
        for _ in range(60):
            text = ''.join(R.choice(alphabet + 'ab\\~') for _ in range(R.randint(0, 6)))
            emit('d', enc, 'strict', text.encode(enc))
            t = random_text(R, 6, list(alphabet))
            for err in ('strict', 'replace', 'ignore', 'backslashreplace', 'xmlcharrefreplace',
                        'surrogateescape'):
                emit('e', enc, err, t)
    for enc in ('shift_jis', 'euc-jp', 'gb2312', 'cp949'):
        for err in ('strict', 'replace', 'surrogateescape', 'backslashreplace'):
            emit('d', enc, err, MULTIBYTE[enc].encode(enc)[:-1])
            emit('d', enc, err, b'ab\xff' + MULTIBYTE[enc].encode(enc))

# Every alias and module name Python has, respelt, and names Python refuses. Each line also
# says which module Python reaches, for the codecs batteries leaves out or takes from glibc.
def group_names():
    names = set(encodings.aliases.aliases) | set(encodings.aliases.aliases.values())
    names |= {'utf-8', 'UTF-8', 'Utf8', 'U8', 'utf', 'UTF 8', ' utf-8 ', 'utf..8', 'u.t.f.8',
              'utf_8_sig', 'UTF-8-SIG', 'latin1', 'Latin-1', 'ISO-8859-1', 'iso_8859_1', 'l1',
              'cp819', 'US-ASCII', '646', 'ANSI_X3.4-1968', 'ansi.x3.4.1968', 'utf_16',
              'UTF-16LE', 'utf-16-be', 'UTF32', 'utf-32le', 'cp65001', 'Shift-JIS', 'EUC_JP',
              'KOI8-R', 'windows-1252', 'MacRoman', 'foo', '', '-', 'utf-9', 'aliases', 'mbcs',
              'ansi', 'csHPRoman8', 'base64', 'rot13', 'hex', 'zlib', 'undefined', 'idna',
              'utf_8\u00e9', 'tactis', 'utf7', 'charmap', 'iso8859_1'}
    for name in sorted(names):
        try:
            module = codecs.lookup(name).incrementalencoder.__module__.rpartition('.')[2]
        except LookupError:
            module = ''
        global GROUP
        GROUP = 'names:' + module
        for data in (b'', b'A\xc3\xa9\xe2\x82\xac\xff'):
            emit('d', name, 'strict', data)
        emit('e', name, 'backslashreplace', 'A\xe9\u20ac'.encode())

# Messages, checked one by one.
def group_msg():
    for op, enc, err, data in [
            ('d', 'utf-8', 'strict', b'\xff'), ('d', 'utf-8', 'strict', b'ab\xe2\x82'),
            ('d', 'utf-8', 'strict', b'\xe2\x28\xa1'),
            ('d', 'utf-8', 'strict', b'x\xed\xa0\x80'),
            ('d', 'utf-8', 'strict', b'\xf4\x90\x80\x80'), ('d', 'utf-8', 'strict', b'\xc0\xaf'),
            ('d', 'utf-8', 'strict', b'\xf0\x9f\x98'), ('d', 'UTF8', 'strict', b'\xe0\x80\x80'),
            ('e', 'utf-8', 'strict', b'abc\xff'), ('e', 'utf-8', 'strict', b'a\xff\xfe'),
            ('e', 'utf-8', 'strict', b'\xc3\xa9\xf0\x9f\x98\x80\xed\xa0\x80'),
            ('d', 'ascii', 'strict', b'a\xe9'),
            ('e', 'ascii', 'strict', b'\xc3\xa9\xf0\x9f\x98\x80!'),
            ('e', 'latin-1', 'strict', '\u20ac'.encode()),
            ('e', 'latin-1', 'strict', '\u20ac\u20ac\u20ac'.encode()),
            ('e', 'latin-1', 'strict', b'\xe9\xff'),
            ('e', 'iso-8859-1', 'surrogateescape', b'\xff\xe2\x82\xac'),
            ('d', 'utf-16', 'strict', b'a'), ('d', 'utf-16', 'strict', b'\xfe\xff\xdc\x00'),
            ('d', 'utf-32-be', 'strict', b'\x00\x11\x00\x00'), ('e', 'utf-16', 'strict', b'a\xff'),
            ('e', 'cp1252', 'strict', '\u0100'.encode()), ('d', 'cp1252', 'strict', b'a\x81'),
            ('d', 'shift_jis', 'strict', b'a\x81'), ('e', 'shift_jis', 'strict', b'a\xff'),
            ('d', 'shift_jis', 'strict', b'C:\\dir\\~x'),
            ('d', 'cp1258', 'strict', b'abc\xff'), ('d', 'cp1255', 'strict', b'\xe0\xe1'),
            ('d', 'no-such-codec', 'strict', b'x'), ('d', 'utf-8', 'bogus', b'\xff'),
            ('d', 'utf-8', 'bogus', b'fine'), ('d', 'U8', 'bogus', b'\xff'),
            ('e', 'l1', 'bogus', '\u20ac'.encode()), ('d', 'base64', 'strict', b'x'),
            ('e', 'rot13', 'strict', b'x'), ('d', 'utf-8', 'xmlcharrefreplace', b'\xff'),
            ('d', 'undefined', 'strict', b'x'), ('e', 'undefined', 'strict', b''),
            ('d', 'utf-8\x00', 'strict', b''), ('d', 'utf-8', 'strict', b''),
            ('d', 'no-such-codec', 'strict', b''), ('e', 'utf-8-sig', 'strict', b''),
            ('e', 'utf-16', 'strict', b''), ('e', 'utf-32', 'strict', b'A')]:
        emit(op, enc, err, data)

{'utf8': group_utf8, 'count': group_count, 'builtin': group_builtin, 'iconv': group_iconv,
 'names': group_names, 'msg': group_msg}[GROUP]()
sys.stdout.write('\n'.join(lines) + '\n')
)PY";

// ---- Fields and failure messages ----

using testing::to_hex;
/// Python's output is always whole hex; anything else is a bug in the test.
std::string from_hex(std::string_view hex) { return testing::from_hex(hex).value(); }

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const std::size_t at = text.find(sep);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos) {
      return out;
    }
    text.remove_prefix(at + 1);
  }
}

// Bytes for a failure message: printable ASCII as it is, the rest as \xNN.
std::string show(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '\\') {
      out += c;
    } else {
      out += "\\x" + to_hex(std::string_view(&c, 1));
    }
  }
  return out;
}

// An outcome, shown for people: "=bytes" or "!Type: message".
std::string show_outcome(std::string_view outcome) {
  if (outcome.empty() || outcome[0] == '?') {
    return std::string(outcome);
  }
  if (outcome[0] == '=') {
    return "=" + show(from_hex(outcome.substr(1)));
  }
  const std::size_t colon = outcome.find(':');
  return std::string(outcome.substr(0, colon + 1)) + " " + from_hex(outcome.substr(colon + 1));
}

std::string hex_number(std::size_t n) {
  std::string out;
  do {
    out.insert(out.begin(), "0123456789abcdef"[n % 16]);
    n /= 16;
  } while (n != 0);
  return out;
}

// What a batteries call did, in the script's notation.
std::string outcome_of(const std::function<std::string()>& call) {
  try {
    return std::string("=").append(to_hex(call()));
  } catch (const BaseException& e) {
    return std::string("!").append(e.type_name()).append(":").append(to_hex(e.what()));
  }
}

struct Case {
  std::string_view op;
  std::string encoding;
  std::string errors;
  std::string input;
  std::string_view expected;
  std::string_view module;  // names: the module Python's lookup reaches ("" for none)
};

// The script's output for a group, run once per group (nullopt: no python3 here).
const std::optional<std::string>& python_output(const std::string& group) {
  static std::map<std::string, std::optional<std::string>> outputs;
  const auto it = outputs.find(group);
  if (it != outputs.end()) {
    return it->second;
  }
  return outputs[group] = batteries::testing::run_python("GROUP = '" + group + "'\n" + k_script);
}

std::vector<Case> cases(const std::string& group) {
  std::vector<Case> out;
  const std::optional<std::string>& output = python_output(group);
  if (!output) {
    return out;
  }
  for (const std::string_view line : split(*output, '\n')) {
    const std::vector<std::string_view> fields = split(line, '\t');
    if (fields.size() != 6 || fields[0].substr(0, group.size()) != group) {
      continue;
    }
    const std::string_view module = fields[0].substr(std::min(fields[0].size(), group.size() + 1));
    out.push_back({fields[1], from_hex(fields[2]), from_hex(fields[3]), from_hex(fields[4]),
                   fields[5], module});
  }
  return out;
}

// Whether `module` is one of the space-separated names in `list`.
bool listed(std::string_view list, std::string_view module) {
  return !module.empty() && list.find(" " + std::string(module) + " ") != std::string_view::npos;
}

// Python's codecs that batteries does not implement: their names raise LookupError.
bool unsupported_module(std::string_view module) {
  return listed(
      " cp1006 cp720 hz idna iso2022_jp_1 iso2022_jp_2004 iso2022_jp_ext mac_arabic mac_croatian"
      " mac_farsi mac_greek mac_romanian mac_turkish palmos punycode raw_unicode_escape"
      " unicode_escape ",
      module);
}

// Python's codecs whose glibc tables differ from Python's in some characters (measured
// over all single bytes, all two-byte sequences and the BMP): iconv's bytes are glibc's.
bool table_differs(std::string_view module) {
  return listed(
      " big5 big5hkscs cp1026 cp1140 cp1255 cp1258 cp273 cp424 cp856 cp875 cp932 cp950"
      " euc_jis_2004 euc_jisx0213 euc_jp euc_kr gb18030 gbk iso2022_jp_2 iso2022_jp_3"
      " iso2022_kr johab mac_cyrillic mac_iceland mac_roman shift_jis_2004 shift_jisx0213"
      " tis_620 utf_7 ",
      module);
}

// Whether an encoder's output holds a backslash escape of a character that is not a
// surrogate.
bool escapes_non_surrogate(std::string_view bytes) {
  for (std::size_t i = 0; i + 1 < bytes.size(); ++i) {
    if (bytes[i] != '\\') {
      continue;
    }
    const char kind = bytes[i + 1];
    if (kind == 'N' || kind == 'x' || kind == 'U') {
      return true;
    }
    if (kind == 'u' && bytes.substr(i + 2, 2) != "dc") {
      return true;
    }
  }
  return false;
}

// Runs every case of the group through batteries; returns how many differ from Python,
// reporting the first few.
int run_cases(const std::string& group) {
  const std::vector<Case> all = cases(group);
  EXPECT_GT(all.size(), 100U) << "the script produced too few cases for " << group;
  int mismatches = 0;
  for (const Case& c : all) {
    std::string actual;
    if (c.op == "d") {
      actual = outcome_of([&] { return decode(c.input, c.encoding, c.errors); });
    } else if (c.op == "e") {
      actual = outcome_of([&] { return encode(c.input, c.encoding, c.errors); });
    } else {
      actual = "=" + hex_number(char_count(c.input));
    }
    std::string_view expected = c.expected;
    bool ok = actual == expected;
    // Deliberate differences. A lone surrogate other than U+DC80..U+DCFF has no batteries
    // spelling: surrogatepass leaves the error standing.
    if (expected == "?") {
      ok = actual.rfind("!UnicodeDecodeError:", 0) == 0;
    }
    // namereplace needs the Unicode names: batteries raises NotImplementedError where
    // Python's output escapes a character other than a surrogate (\N{...}, or \x, \u, \U
    // for a character without a name).
    if (c.errors == "namereplace" && expected[0] == '=' &&
        escapes_non_surrogate(from_hex(expected.substr(1)))) {
      ok = actual.rfind("!NotImplementedError:", 0) == 0;
    }
    if (group == "names") {
      if (unsupported_module(c.module) && !c.input.empty()) {
        ok = actual.rfind("!LookupError:" + to_hex("unknown encoding: "), 0) == 0;
      } else if (table_differs(c.module)) {
        // The name must lead to the codec; the bytes it gives are glibc's.
        const std::string lookup_error = "!LookupError:";
        const bool python_found = expected.rfind(lookup_error, 0) != 0;
        ok = python_found ? actual.rfind(lookup_error, 0) != 0 : actual == expected;
      }
    }
    if (!ok && ++mismatches <= 20) {
      ADD_FAILURE() << c.op << " " << show(c.encoding) << " errors=" << c.errors
                    << " input=" << show(c.input) << "\n  python:    " << show_outcome(expected)
                    << "\n  batteries: " << show_outcome(actual);
    }
  }
  return mismatches;
}

// Checks that the call raises the Python exception named `type` with the message.
void expect_raises(const std::function<std::string()>& call, std::string_view type,
                   const std::string& message) {
  if (type == "UnicodeDecodeError") {
    EXPECT_RAISES_MSG(call(), UnicodeDecodeError, message);
  } else if (type == "UnicodeEncodeError") {
    EXPECT_RAISES_MSG(call(), UnicodeEncodeError, message);
  } else if (type == "UnicodeError") {
    EXPECT_RAISES_MSG(call(), UnicodeError, message);
  } else if (type == "LookupError") {
    EXPECT_RAISES_MSG(call(), LookupError, message);
  } else if (type == "TypeError") {
    EXPECT_RAISES_MSG(call(), TypeError, message);
  } else if (type == "ValueError") {
    EXPECT_RAISES_MSG(call(), ValueError, message);
  } else {
    ADD_FAILURE() << "unexpected Python exception " << type << ": " << message;
  }
}

TEST(Codecs, ExceptionsCarryPythonsMessages) {
  if (!python_output("msg")) {
    GTEST_SKIP() << "no python3";
  }
  const std::vector<Case> all = cases("msg");
  EXPECT_GT(all.size(), 30U);
  for (const Case& c : all) {
    SCOPED_TRACE(std::string(c.op) + " " + show(c.encoding) + " " + c.errors + " " + show(c.input));
    const std::function<std::string()> call = [&] {
      return c.op == "d" ? decode(c.input, c.encoding, c.errors)
                         : encode(c.input, c.encoding, c.errors);
    };
    if (c.expected[0] == '=') {
      EXPECT_EQ(show(call()), show(from_hex(c.expected.substr(1))));
    } else {
      const std::size_t colon = c.expected.find(':');
      expect_raises(call, c.expected.substr(1, colon - 1), from_hex(c.expected.substr(colon + 1)));
    }
  }
}

TEST(Codecs, SurrogateescapeRoundTripsAnyBytes) {
  // The convention batteries text rests on: bytes -> text -> bytes gives the bytes back.
  std::string all;
  for (int i = 0; i < 256; ++i) {
    for (int j = 0; j < 256; j += 17) {
      all += static_cast<char>(i);
      all += static_cast<char>(j);
      all += static_cast<char>(0xE2);
    }
  }
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{8},
                                 std::size_t{9}, std::size_t{1000}, all.size()}) {
    const std::string data = all.substr(0, size);
    const std::string text = decode(data, "utf-8", "surrogateescape");
    EXPECT_EQ(encode(text, "utf-8", "surrogateescape"), data);
    EXPECT_EQ(encode(decode(data, "latin-1", "strict"), "latin-1", "strict"), data);
  }
}

TEST(Codecs, DeliberateDifferencesFromPython) {
  // namereplace would need the Unicode character names.
  EXPECT_RAISES(static_cast<void>(encode("\xE2\x82\xAC", "ascii", "namereplace")),
                NotImplementedError);
  // Surrogates still get namereplace's escape, which needs no name.
  EXPECT_EQ(encode("a\xFF", "ascii", "namereplace"), "a\\udcff");
  // Python codecs with no implementation here (those glibc's iconv lacks, idna, punycode and
  // the unicode_escape pair) are refused as unknown, saying why.
  EXPECT_RAISES_MSG(
      static_cast<void>(decode("x", "hz", "strict")), LookupError,
      "unknown encoding: hz (batteries has no implementation of Python's 'hz' codec)");
  EXPECT_RAISES_MSG(static_cast<void>(encode("x", "idna", "strict")), LookupError,
                    "unknown encoding: idna");
  // A lone surrogate outside U+DC80..U+DCFF has no spelling in batteries text: surrogatepass
  // cannot decode it, and the error stands.
  EXPECT_RAISES_MSG(static_cast<void>(decode("\xED\xA0\x80", "utf-8", "surrogatepass")),
                    UnicodeDecodeError, "invalid continuation byte");
  // U+DC80..U+DCFF does: it is the escaped byte.
  EXPECT_EQ(decode("\xED\xB3\xBF", "utf-8", "surrogatepass"), "\xFF");
}

TEST(CodecsDiff, Utf8AndUtf8SigAgainstPython) {
  if (!python_output("utf8")) {
    GTEST_SKIP() << "no python3";
  }
  EXPECT_EQ(run_cases("utf8"), 0);
}

TEST(CodecsDiff, AsciiLatin1Utf16Utf32AgainstPython) {
  if (!python_output("builtin")) {
    GTEST_SKIP() << "no python3";
  }
  EXPECT_EQ(run_cases("builtin"), 0);
}

TEST(CodecsDiff, IconvCodecsAgainstPython) {
  if (!python_output("iconv")) {
    GTEST_SKIP() << "no python3";
  }
  EXPECT_EQ(run_cases("iconv"), 0);
}

TEST(CodecsDiff, EncodingNamesAgainstPython) {
  if (!python_output("names")) {
    GTEST_SKIP() << "no python3";
  }
  EXPECT_EQ(run_cases("names"), 0);
}

TEST(CodecsDiff, CharCountIsPythonsLen) {
  if (!python_output("count")) {
    GTEST_SKIP() << "no python3";
  }
  EXPECT_EQ(run_cases("count"), 0);
}

}  // namespace
}  // namespace batteries::pathlib::detail
