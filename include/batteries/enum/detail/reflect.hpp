// Compile-time reflection of enumerator names from __PRETTY_FUNCTION__, many values at once.
//
// One function template is instantiated with the whole range of candidate values as a pack,
// and the compiler's signature string names every value that has an enumerator
// (`{(E)0, ns::E::RED, ...}` from GCC, `<(E)0, ns::E::RED, ...>` from clang). Parsing that
// one string at compile time is far cheaper than the usual one instantiation per value.
// The names are then copied into a compact array, so the long string is never emitted.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>

#include "batteries/enum/options.hpp"

namespace batteries::enums::detail {

#if !defined(__GNUC__)
#error "batteries::enums reflection needs GCC or clang (__PRETTY_FUNCTION__)"
#endif

/// The unsigned type with U's bits; bool, which has no unsigned form, uses unsigned char.
template <class U>
using unsigned_of =
    std::make_unsigned_t<std::conditional_t<std::is_same_v<U, bool>, unsigned char, U>>;

template <auto... Vs>
constexpr std::string_view pretty_values() noexcept {
  return __PRETTY_FUNCTION__;
}

template <class T>
constexpr std::string_view pretty_type() noexcept {
  return __PRETTY_FUNCTION__;
}

// Reports a malformed signature at compile time; never defined as constexpr on purpose.
void reflection_could_not_parse_the_compiler_signature();

constexpr bool is_ident_start(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// The last component of a qualified name, ignoring '::' inside <...> and (...).
constexpr std::string_view last_component(std::string_view q) noexcept {
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < q.size(); ++i) {
    const char c = q[i];
    if (c == '<' || c == '(') {
      ++depth;
    } else if (c == '>' || c == ')') {
      --depth;
    } else if (c == ':' && depth == 0 && i + 1 < q.size() && q[i + 1] == ':') {
      start = i + 2;
      ++i;
    }
  }
  return q.substr(start);
}

/// The unqualified name of type T ("Color" for ns::Outer::Color).
template <class T>
constexpr std::string_view short_type_name() noexcept {
  constexpr std::string_view s = pretty_type<T>();
#if defined(__clang__)
  constexpr std::size_t b = s.find("[T = ") + 5;
  constexpr std::size_t e = s.rfind(']');
#else
  constexpr std::size_t b = s.find("[with T = ") + 10;
  constexpr std::size_t e =
      s.find(';', b) == std::string_view::npos ? s.rfind(']') : s.find(';', b);
#endif
  return last_component(s.substr(b, e - b));
}

/// The result of one scan: which candidates have names, and where those names are.
template <std::size_t N>
struct Scan {
  std::size_t count = 0;  // named candidates
  std::size_t chars = 0;  // total length of their names
  std::array<std::uint32_t, N> index{};
  std::array<std::uint32_t, N> offset{};
  std::array<std::uint32_t, N> length{};
};

/// Parses the signature of pretty_values<candidates...>() for N candidates. Most candidates
/// have no enumerator and print as "(ns::E)5"; the "(ns::E)" prefix is the same for all of
/// them, so after the first one it is skipped by length. Raw pointers, not string_view calls,
/// because every operation counts in constant evaluation.
template <std::size_t N>
constexpr Scan<N> parse_pack(std::string_view sig) {
  Scan<N> out{};
#if defined(__clang__)
  std::size_t pos = sig.find("Vs = <");
  const char close = '>';
#else
  std::size_t pos = sig.find("Vs = {");
  const char close = '}';
#endif
  if (pos == std::string_view::npos) reflection_could_not_parse_the_compiler_signature();
  pos += 6;
  const char* s = sig.data();
  const std::size_t size = sig.size();
  std::size_t prefix = 0;  // length of "(ns::E)", once known
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0) {
      if (pos + 2 > size || s[pos] != ',' || s[pos + 1] != ' ') {
        reflection_could_not_parse_the_compiler_signature();
      }
      pos += 2;
    }
    const std::size_t begin = pos;
    if (pos < size && s[pos] == '(') {
      if (prefix != 0 && pos + prefix <= size && s[pos + prefix - 1] == ')') {
        pos += prefix;
      } else {
        int depth = 0;
        do {
          if (s[pos] == '(' || s[pos] == '<') ++depth;
          if (s[pos] == ')' || s[pos] == '>') --depth;
          ++pos;
        } while (pos < size && depth > 0);
        prefix = pos - begin;
      }
      while (pos < size && s[pos] != ',' && s[pos] != close) ++pos;  // the number
      continue;
    }
    int depth = 0;
    std::size_t last = begin;  // start of the last component
    while (pos < size) {
      const char c = s[pos];
      if (depth == 0 && (c == ',' || c == close)) break;
      if (c == '<' || c == '(') ++depth;
      if (c == '>' || c == ')') --depth;
      if (c == ':' && depth == 0 && pos + 1 < size && s[pos + 1] == ':') {
        last = pos + 2;
        ++pos;
      }
      ++pos;
    }
    if (pos >= size) reflection_could_not_parse_the_compiler_signature();
    if (last >= pos || !is_ident_start(s[last])) continue;
    out.index[out.count] = static_cast<std::uint32_t>(i);
    out.offset[out.count] = static_cast<std::uint32_t>(last);
    out.length[out.count] = static_cast<std::uint32_t>(pos - last);
    out.chars += pos - last;
    ++out.count;
  }
  return out;
}

/// The candidates reflection tries: a range of values, or every bit position for flags.
template <class E, bool Flags, long long Lo, long long Hi>
struct Candidates {
  using U = std::underlying_type_t<E>;
  static constexpr long long lo = Lo < static_cast<long long>(std::numeric_limits<U>::min())
                                      ? static_cast<long long>(std::numeric_limits<U>::min())
                                      : Lo;
  static constexpr long long hi =
      static_cast<unsigned long long>(Hi) > std::numeric_limits<U>::max() && Hi >= 0
          ? static_cast<long long>(std::numeric_limits<U>::max())
          : Hi;
  static constexpr std::size_t bits = sizeof(U) * 8;
  static constexpr std::size_t size =
      Flags ? bits + 1 : (hi < lo ? 0 : static_cast<std::size_t>(hi - lo) + 1);
  static_assert(Flags || size <= 65536,
                "batteries::enums: the reflection range (Options::min..max) is limited to "
                "65536 values; declare the enum with BATTERIES_ENUM for values far apart");

  /// The i-th candidate: 0, 1, 2, 4, ... for flags; lo + i otherwise.
  static constexpr U at(std::size_t i) noexcept {
    if constexpr (Flags) {
      using UU = unsigned_of<U>;
      return i == 0 ? U{} : static_cast<U>(static_cast<UU>(UU{1} << (i - 1)));
    } else {
      return static_cast<U>(lo + static_cast<long long>(i));
    }
  }

  template <std::size_t... I>
  static constexpr std::string_view signature(std::index_sequence<I...>) noexcept {
    return pretty_values<static_cast<E>(at(I))...>();
  }

  static constexpr Scan<size> scan() {
    if constexpr (size == 0) {
      return {};
    } else {
      return parse_pack<size>(signature(std::make_index_sequence<size>{}));
    }
  }
};

/// What reflection found for E: values in increasing order, their names, compactly stored.
template <class E, bool Flags, long long Lo, long long Hi>
struct Reflected {
  using U = std::underlying_type_t<E>;
  using C = Candidates<E, Flags, Lo, Hi>;
  static constexpr Scan<C::size> found = C::scan();
  static constexpr std::size_t size = found.count;

  static constexpr auto storage = [] {
    std::array<char, found.chars + 1> chars{};
    constexpr std::string_view sig = C::signature(std::make_index_sequence<C::size>{});
    std::size_t at = 0;
    for (std::size_t i = 0; i < size; ++i) {
      for (std::uint32_t k = 0; k < found.length[i]; ++k) chars[at++] = sig[found.offset[i] + k];
    }
    return chars;
  }();

  static constexpr std::array<U, size> values = [] {
    std::array<U, size> v{};
    for (std::size_t i = 0; i < size; ++i) v[i] = C::at(found.index[i]);
    return v;
  }();

  static constexpr std::array<std::string_view, size> names = [] {
    std::array<std::string_view, size> n{};
    std::size_t at = 0;
    for (std::size_t i = 0; i < size; ++i) {
      n[i] = std::string_view(storage.data() + at, found.length[i]);
      at += found.length[i];
    }
    return n;
  }();
};

}  // namespace batteries::enums::detail
