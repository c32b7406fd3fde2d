# smtpsd_module(NAME [NO_UNITY] SOURCES ... DEPS ...) defines library
# smtpsd_NAME from src/NAME and collects its *_test.cpp files into the
# unit-test binary.
#
# A module's files compile as unity batches of six: CLI11, nlohmann-json and
# the store headers are parsed once per batch instead of once per file (the
# CLI went from 250 to 60 CPU seconds in the sanitizer build). NO_UNITY for
# the modules whose coroutines GCC 12 refuses to batch: their frames hold
# types of an anonymous namespace, which -Wsubobject-linkage reports once the
# file is included by another.
set_property(GLOBAL PROPERTY SMTPSD_TEST_SOURCES "")
set_property(GLOBAL PROPERTY SMTPSD_TEST_LIBS "")

function(smtpsd_module name)
  cmake_parse_arguments(M "NO_UNITY" "" "SOURCES;DEPS;TESTS" ${ARGN})
  add_library(smtpsd_${name} STATIC ${M_SOURCES})
  if(NOT M_NO_UNITY)
    set_target_properties(smtpsd_${name} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 6)
  endif()
  target_include_directories(smtpsd_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(smtpsd_${name} PUBLIC ${M_DEPS})
  foreach(t IN LISTS M_TESTS)
    set_property(GLOBAL APPEND PROPERTY SMTPSD_TEST_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/${t})
  endforeach()
  set_property(GLOBAL APPEND PROPERTY SMTPSD_TEST_LIBS smtpsd_${name})
endfunction()
