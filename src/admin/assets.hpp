#pragma once
// Files compiled into the binary (cmake/embed.cmake): the dashboard's page,
// script, style and chart library, and the API's OpenAPI description.
#include <string_view>
#include <vector>

namespace smtpsd::admin {

struct asset {
  std::string_view path;          // "/", "/assets/app.js", "/api/v1/openapi.json"
  std::string_view content_type;
  std::string_view body;
  std::string_view etag;          // "\"<hash of the body>\"", for If-None-Match
};

const std::vector<asset>& embedded_assets();
const asset* find_asset(std::string_view path);

}  // namespace smtpsd::admin
