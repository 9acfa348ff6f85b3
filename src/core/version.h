// The program's version: the project version plus the commit it was built
// from (`git describe` at build time, e.g. "0.1.0+g1a2b3c4-dirty"), recorded
// with every run so that a result names the code that produced it.
#pragma once

namespace lcte {

const char* version();

}  // namespace lcte
