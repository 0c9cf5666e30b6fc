// EXPECT_RAISES / ASSERT_RAISES: the statement throws exactly this Python-named exception
// type (or a subclass), optionally with a message that contains a given text.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace batteries::testing {

inline ::testing::AssertionResult message_contains(std::string_view message,
                                                   std::string_view expected) {
  if (message.find(expected) != std::string_view::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "message \"" << message << "\" does not contain \"" << expected << "\"";
}

}  // namespace batteries::testing

// Checks that `stmt` throws `type`; on success the caught object is discarded.
#define EXPECT_RAISES(stmt, type) EXPECT_THROW(stmt, type)
#define ASSERT_RAISES(stmt, type) ASSERT_THROW(stmt, type)

// Checks that `stmt` throws `type` and that what() contains `text`.
#define EXPECT_RAISES_MSG(stmt, type, text)                                          \
  do {                                                                               \
    bool batteries_caught_ = false;                                                  \
    try {                                                                            \
      stmt;                                                                          \
    } catch (const type& batteries_e_) {                                             \
      batteries_caught_ = true;                                                      \
      EXPECT_TRUE(::batteries::testing::message_contains(batteries_e_.what(), text)) \
          << "from " #stmt;                                                          \
    } catch (const std::exception& batteries_e_) {                                   \
      ADD_FAILURE() << #stmt " threw the wrong type: " << batteries_e_.what();       \
      batteries_caught_ = true;                                                      \
    }                                                                                \
    if (!batteries_caught_) {                                                        \
      ADD_FAILURE() << #stmt " did not throw " #type;                                \
    }                                                                                \
  } while (false)
