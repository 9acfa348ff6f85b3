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

# lcte_add_test(NAME SOURCES ... LIBS ... [ISA_MATRIX gtest-filter])
# A GoogleTest executable whose cases are registered with CTest one by one.
# The cases matching ISA_MATRIX (a --gtest_filter pattern; "*" for all) are
# registered once per kernel ISA instead, as isa_scalar.<case>,
# isa_avx2.<case>, isa_avx512.<case> and isa_avx512vnni.<case> with
# LCTE_KERNELS set to match; where
# the machine lacks that ISA, tests/common/isa_gate.cpp makes them skip.
function(lcte_add_test name)
  cmake_parse_arguments(ARG "" "ISA_MATRIX" "SOURCES;LIBS" ${ARGN})
  set(sources ${ARG_SOURCES})
  if(ARG_ISA_MATRIX)
    list(APPEND sources ${PROJECT_SOURCE_DIR}/tests/common/isa_gate.cpp)
  endif()
  add_executable(${name} ${sources})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  if(ARG_ISA_MATRIX)
    target_link_libraries(${name} PRIVATE lcte_kernels)
  endif()
  target_compile_definitions(${name} PRIVATE
    LCTE_DEFAULT_DATA_DIR="${LCTE_DEFAULT_DATA_DIR}"
    LCTE_BINARY_DIR="${PROJECT_BINARY_DIR}"
    LCTE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  # Commands that publish to the experiment store write to the build tree, never
  # to the user's own store. The label is the program's name, so that
  # `ctest -L '^name$'` runs one program's tests (scripts/sanitize.sh does).
  set(store_env "LCTE_STORE=${PROJECT_BINARY_DIR}/test-store.sqlite")
  if(NOT ARG_ISA_MATRIX)
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600 LABELS ${name} ENVIRONMENT "${store_env}")
    return()
  endif()
  if(NOT ARG_ISA_MATRIX STREQUAL "*")
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_FILTER "-${ARG_ISA_MATRIX}"
      PROPERTIES TIMEOUT 600 LABELS ${name} ENVIRONMENT "${store_env}")
  endif()
  foreach(isa scalar avx2 avx512 avx512vnni)
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_PREFIX "isa_${isa}." TEST_FILTER "${ARG_ISA_MATRIX}"
      PROPERTIES TIMEOUT 600 LABELS ${name} SKIP_RETURN_CODE 77 ENVIRONMENT "${store_env}"
                 ENVIRONMENT_MODIFICATION "LCTE_KERNELS=set:${isa}")
  endforeach()
endfunction()
