// The web page's files, compiled into the binary by cmake/embed.cmake.
#pragma once

#include <string_view>
#include <vector>

namespace growhook::web {

struct Asset {
  std::string_view path;  // "/index.html"
  std::string_view body;
};

const std::vector<Asset>& assets();

}  // namespace growhook::web
