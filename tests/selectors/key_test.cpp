// Tests for the selector values: Events arithmetic, FileObject identity and SelectorKey.
#include <batteries/selectors/key.hpp>

#include <gtest/gtest.h>

#include <sstream>

#include "raises.hpp"

namespace batteries::selectors {
namespace {

namespace enums = batteries::enums;

TEST(Events, CombineAndTestLikePythonInts) {
  static_assert(enums::value(EVENT_READ) == 1 && enums::value(EVENT_WRITE) == 2);  // Python's
  constexpr Events both = EVENT_READ | EVENT_WRITE;
  static_assert(enums::value(both) == 3);
  static_assert((both & EVENT_READ) != 0);
  static_assert((EVENT_READ & EVENT_WRITE) == 0);
  static_assert(enums::contains(both, EVENT_READ));  // Python's EVENT_READ in mask
  static_assert((both & ~EVENT_READ) == EVENT_WRITE);
  static_assert((both ^ EVENT_WRITE) == EVENT_READ);
  Events e{};
  EXPECT_FALSE(enums::bool_(e));
  e |= EVENT_WRITE;
  EXPECT_EQ(e, EVENT_WRITE);
  e &= EVENT_READ;
  EXPECT_EQ(e, Events());
}

TEST(Events, IsAnIntFlag) {
  static_assert(enums::kind<Events>() == enums::Kind::IntFlag);
  EXPECT_EQ(enums::name(EVENT_READ | EVENT_WRITE), "EVENT_READ|EVENT_WRITE");
  EXPECT_EQ(enums::repr(EVENT_WRITE), "<Events.EVENT_WRITE: 2>");
  EXPECT_EQ(enums::from_value<Events>(1), EVENT_READ);
  EXPECT_EQ(enums::count<Events>(), 2u);
}

TEST(Events, PrintsAsPythonPrintsTheInt) {
  EXPECT_EQ(enums::str(EVENT_READ | EVENT_WRITE), "3");
  std::ostringstream out;
  out << EVENT_WRITE;
  EXPECT_EQ(out.str(), "2");
  EXPECT_EQ(fmt::format("{}", EVENT_READ), "1");
}

struct Sock {
  int fd = 5;
  int fileno() const { return fd; }
  std::string repr() const { return "<Sock fd=5>"; }
};

struct Plain {
  int fileno() { return 9; }
};

struct Broken {
  int fileno() const { throw ValueError("I/O operation on closed file"); }
};

TEST(FileObjectTest, PlainDescriptor) {
  const FileObject f = 3;
  EXPECT_TRUE(f.is_fd());
  EXPECT_EQ(f.fileno(), 3);
  EXPECT_EQ(f.repr(), "3");
  EXPECT_EQ(f, FileObject(3));
  EXPECT_NE(f, FileObject(4));
  EXPECT_EQ(f.get<int>(), nullptr);
  EXPECT_RAISES_MSG((void)FileObject(-2).fileno(), ValueError, "Invalid file descriptor: -2");
}

TEST(FileObjectTest, ObjectsAreReferencedAndTypeChecked) {
  Sock sock;
  const FileObject f = sock;
  EXPECT_FALSE(f.is_fd());
  EXPECT_EQ(f.fileno(), 5);
  sock.fd = 6;  // a reference, not a copy
  EXPECT_EQ(f.fileno(), 6);
  EXPECT_EQ(f.get<Sock>(), &sock);
  EXPECT_EQ(f.get<const Sock>(), &sock);
  EXPECT_EQ(f.get<Plain>(), nullptr);
  EXPECT_EQ(f.repr(), "<Sock fd=5>");
  EXPECT_NE(f, FileObject(6));  // identity, not descriptor equality
  Sock other;
  EXPECT_NE(f, FileObject(other));
  EXPECT_EQ(f, FileObject(sock));

  Plain plain;
  const FileObject p = plain;
  EXPECT_EQ(p.fileno(), 9);
  EXPECT_EQ(p.repr().rfind("<object at 0x", 0), 0u);

  const Sock constant;
  const FileObject c = constant;
  EXPECT_EQ(c.get<const Sock>(), &constant);
  EXPECT_EQ(c.get<Sock>(), nullptr);  // no const_cast through the back door
}

TEST(FileObjectTest, TemporariesAreRefusedAtCompileTime) {
  static_assert(!std::is_constructible_v<FileObject, Sock&&>);
  static_assert(std::is_constructible_v<FileObject, Sock&>);
  static_assert(std::is_constructible_v<FileObject, int>);
  static_assert(!std::is_constructible_v<FileObject, std::string>);
}

// Regression: FileObject has fileno() itself, and copying a non-const one once picked the
// object constructor, wrapping the FileObject instead of copying it.
TEST(FileObjectTest, CopiesAreCopies) {
  FileObject fd = 3;
  FileObject fd_copy(fd);
  EXPECT_TRUE(fd_copy.is_fd());
  EXPECT_EQ(fd_copy, fd);
  EXPECT_EQ(fd_copy.get<FileObject>(), nullptr);
  Sock sock;
  FileObject object = sock;
  FileObject object_copy = object;
  EXPECT_EQ(object_copy.get<Sock>(), &sock);
  EXPECT_EQ(object_copy, object);
}

TEST(FileObjectTest, FailingFilenoIsInvalidFileObject) {
  Broken broken;
  EXPECT_RAISES_MSG((void)FileObject(broken).fileno(), ValueError, "Invalid file object: <object");
}

TEST(SelectorKeyTest, Repr) {
  const SelectorKey key{FileObject(4), 4, EVENT_READ, std::any(7)};
  EXPECT_EQ(key.repr(), "SelectorKey(fileobj=4, fd=4, events=1, data=7)");
  const SelectorKey none{FileObject(4), 4, EVENT_WRITE, {}};
  EXPECT_EQ(fmt::format("{}", none), "SelectorKey(fileobj=4, fd=4, events=2, data=None)");
  const SelectorKey text{FileObject(4), 4, EVENT_WRITE, std::any(std::string("cb"))};
  EXPECT_EQ(text.repr(), "SelectorKey(fileobj=4, fd=4, events=2, data='cb')");
}

}  // namespace
}  // namespace batteries::selectors
