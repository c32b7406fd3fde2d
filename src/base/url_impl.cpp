// The one translation unit that compiles Boost.URL (its header-only mode).
#include <boost/url/src.hpp>
