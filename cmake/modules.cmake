# smtpsd_module(NAME SOURCES ... DEPS ...) defines library smtpsd_NAME from
# src/NAME and collects its *_test.cpp files into the unit-test binary.
set_property(GLOBAL PROPERTY SMTPSD_TEST_SOURCES "")
set_property(GLOBAL PROPERTY SMTPSD_TEST_LIBS "")

function(smtpsd_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;TESTS" ${ARGN})
  add_library(smtpsd_${name} STATIC ${M_SOURCES})
  target_include_directories(smtpsd_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(smtpsd_${name} PUBLIC ${M_DEPS})
  foreach(t IN LISTS M_TESTS)
    set_property(GLOBAL APPEND PROPERTY SMTPSD_TEST_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/${t})
  endforeach()
  set_property(GLOBAL APPEND PROPERTY SMTPSD_TEST_LIBS smtpsd_${name})
endfunction()
