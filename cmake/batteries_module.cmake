# batteries_add_module(<name> SOURCES ... [DEPENDS ...]): one library target per module,
# exported as batteries::<name>, with the project's warning flags.

set(BATTERIES_MODULES "" CACHE INTERNAL "batteries module targets")

function(batteries_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion)
  if(BATTERIES_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

function(batteries_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  set(target batteries_${name})
  add_library(${target} ${ARG_SOURCES})
  add_library(batteries::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME batteries_${name}
                                             POSITION_INDEPENDENT_CODE ON)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_include_directories(
    ${target}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
           $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${target} PUBLIC ${ARG_DEPENDS})
  batteries_warnings(${target})
  set(BATTERIES_MODULES ${BATTERIES_MODULES} ${target} CACHE INTERNAL "batteries module targets")
endfunction()
