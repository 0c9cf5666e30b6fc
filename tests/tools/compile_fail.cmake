# Compile-failure check: SOURCE must compile, and must not with BATTERIES_EXPECT_COMPILE_ERROR.
# Arguments: CXX, INCLUDES ('|'-separated), SOURCE, MATCH (a regex the error must match; the
# source states the expected diagnostic on a line "// expect: <regex>", which wins).
string(REPLACE "|" ";" include_list "${INCLUDES}")
set(flags -std=c++20 -fsyntax-only)
foreach(dir IN LISTS include_list)
  list(APPEND flags "-I${dir}")
endforeach()

file(STRINGS "${SOURCE}" expect_lines REGEX "^// expect: ")
if(expect_lines)
  list(GET expect_lines 0 first)
  string(REGEX REPLACE "^// expect: " "" MATCH "${first}")
endif()

execute_process(COMMAND ${CXX} ${flags} ${SOURCE} RESULT_VARIABLE rc ERROR_VARIABLE err
                OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the control build of ${SOURCE} failed, so the test proves nothing:\n${err}")
endif()

execute_process(COMMAND ${CXX} ${flags} -DBATTERIES_EXPECT_COMPILE_ERROR ${SOURCE}
                RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled with BATTERIES_EXPECT_COMPILE_ERROR; it must not")
endif()
if(NOT err MATCHES "${MATCH}")
  message(FATAL_ERROR "${SOURCE} failed, but not with a diagnostic matching '${MATCH}':\n${err}")
endif()
message(STATUS "failed to compile as expected (matched '${MATCH}')")
