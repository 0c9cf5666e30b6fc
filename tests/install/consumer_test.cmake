# Installs batteries into a scratch prefix (MODE=find_package) or points the consumer at
# the source tree (MODE=add_subdirectory), then configures, builds and runs the consumer.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
  endif()
  set(output "${out}" PARENT_SCOPE)
endfunction()

set(configure -S ${CONSUMER_DIR} -B ${WORK}/build -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX}
              "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}"
              -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK}/prefix)
  foreach(expected include/batteries/selectors.hpp include/batteries/errors.hpp
                   include/batteries/version.hpp bin/batteries
                   lib/cmake/batteries/batteriesConfigVersion.cmake)
    if(NOT EXISTS ${WORK}/prefix/${expected})
      message(FATAL_ERROR "not installed: ${expected}")
    endif()
  endforeach()
  run(${CMAKE_COMMAND} ${configure} -DCMAKE_PREFIX_PATH=${WORK}/prefix)
else()
  run(${CMAKE_COMMAND} ${configure} -DBATTERIES_SOURCE_DIR=${SOURCE_DIR})
endif()
run(${CMAKE_COMMAND} --build ${WORK}/build -j2)
run(${WORK}/build/consumer)
if(NOT output MATCHES "consumer: batteries [0-9.]+, 1 ready, KeyError: [0-9]+ is not registered")
  message(FATAL_ERROR "unexpected consumer output: ${output}")
endif()
message(STATUS "${output}")
