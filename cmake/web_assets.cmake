# cmake -DNODE=... -DNPM=... -DWEB_DIR=web -DOUT=build/web/dist -P web_assets.cmake
# Installs web/'s locked dependencies when node_modules is missing or older
# than package-lock.json, then builds the dashboard's assets into OUT. A failure is a warning, not a build
# error: lcte works without the page, and / says that it was not built.
if(NOT EXISTS ${WEB_DIR}/node_modules/uplot/package.json OR
   ${WEB_DIR}/package-lock.json IS_NEWER_THAN ${WEB_DIR}/node_modules/.package-lock.json)
  message(STATUS "lcte: npm ci in ${WEB_DIR}")
  execute_process(COMMAND ${NPM} ci --no-audit --no-fund WORKING_DIRECTORY ${WEB_DIR} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(WARNING "lcte: npm ci failed (${rc}); the dashboard's assets are not built")
    return()
  endif()
endif()
execute_process(COMMAND ${NODE} build.mjs ${OUT} WORKING_DIRECTORY ${WEB_DIR} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(WARNING "lcte: node build.mjs failed (${rc}); the dashboard's assets are not built")
endif()
