# Helpers shared by src/, tests/ and bench/.

# lcte_add_library(NAME concern SOURCES ... DEPS ...)
# One static library per concern (src/<concern>/), so a concern builds and is
# tested on its own; lcte_all links them into the one library the CLI uses.
function(lcte_add_library concern)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(lcte_${concern} STATIC ${ARG_SOURCES})
  target_include_directories(lcte_${concern} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(lcte_${concern} PUBLIC ${ARG_DEPS})
  set_property(GLOBAL APPEND PROPERTY LCTE_LIBRARIES lcte_${concern})
endfunction()

# lcte_add_test(NAME SOURCES ... LIBS ...)
# A GoogleTest executable whose cases are registered with CTest one by one.
function(lcte_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    LCTE_DEFAULT_DATA_DIR="${LCTE_DEFAULT_DATA_DIR}"
    LCTE_BINARY_DIR="${PROJECT_BINARY_DIR}"
    LCTE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  # Commands that publish to the experiment store write to the build tree, never
  # to the user's own store.
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600
    ENVIRONMENT "LCTE_STORE=${PROJECT_BINARY_DIR}/test-store.sqlite")
endfunction()
