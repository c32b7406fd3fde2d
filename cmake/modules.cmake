# smtpsd_module(NAME SOURCES ... DEPS ... TESTS ...) defines library
# smtpsd_NAME from src/NAME and collects its *_test.cpp files into the
# unit-test binary.
#
# A module's files compile as unity batches of twelve: Asio, Beast, CLI11,
# nlohmann-json and the store headers are parsed, and their templates
# instantiated, once per batch instead of once per file. CPU seconds in the
# sanitizer build: the CLI 250 file by file, 36 now; net, events, delivery,
# queue, admin and server 361 and 183; the unit tests (tests/CMakeLists.txt)
# 186 and 96 (with the narrower UBSan of CMakeLists.txt, a fifth of the
# saving). -Wsubobject-linkage is off in
# batches: GCC reports coroutine frames that hold types of an anonymous
# namespace once their file is included by another, which a batch is, though
# each file is still compiled exactly once. Two files of one module may not
# define the same name in an anonymous namespace (a module shares its logger
# through MODULE/log.hpp).
set_property(GLOBAL PROPERTY SMTPSD_TEST_SOURCES "")
set_property(GLOBAL PROPERTY SMTPSD_TEST_LIBS "")

function(smtpsd_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;TESTS" ${ARGN})
  add_library(smtpsd_${name} STATIC ${M_SOURCES})
  set_target_properties(smtpsd_${name} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 12)
  target_compile_options(smtpsd_${name} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-subobject-linkage>)
  target_include_directories(smtpsd_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(smtpsd_${name} PUBLIC ${M_DEPS})
  foreach(t IN LISTS M_TESTS)
    set_property(GLOBAL APPEND PROPERTY SMTPSD_TEST_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/${t})
  endforeach()
  set_property(GLOBAL APPEND PROPERTY SMTPSD_TEST_LIBS smtpsd_${name})
endfunction()
