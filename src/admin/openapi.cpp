// /api/v1/openapi.json, made from the route table itself, so the
// description cannot leave out a path the server answers or describe one it
// does not.
#include <boost/beast/http/verb.hpp>

#include <regex>

#include "admin/api.hpp"

#ifndef SMTPSD_VERSION
#define SMTPSD_VERSION "0"
#endif

namespace smtpsd::admin {

namespace {

json schema_of(field::kind k) {
  switch (k) {
    case field::kind::string: return {{"type", "string"}};
    case field::kind::integer: return {{"type", "integer"}, {"minimum", 0}};
    case field::kind::boolean: return {{"type", "boolean"}};
    case field::kind::limit:
      return {{"oneOf", json::array({{{"type", "number"}, {"minimum", 0}}, {{"type", "string"}, {"const", "default"}}})}};
  }
  return json::object();
}

const char* path_parameter_text(const std::string& name) {
  if (name == "name") return "the account's (or token's) name";
  if (name == "username") return "the credential's username";
  if (name == "identity") return "a domain or an address";
  if (name == "address") return "an address";
  if (name == "id") return "a queue id";
  return "";
}

json error_reply(const char* why) {
  return {{"description", why}, {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
}

json operation(const route& r) {
  json op = {{"summary", r.summary}, {"operationId", std::string(http::to_string(r.method)) + " " + r.pattern}};
  auto params = json::array();
  static const std::regex placeholder(R"(\{([a-z_]+)\})");
  for (std::sregex_iterator it(r.pattern.begin(), r.pattern.end(), placeholder), end; it != end; ++it) {
    auto name = (*it)[1].str();
    params.push_back({{"name", name},
                      {"in", "path"},
                      {"required", true},
                      {"description", path_parameter_text(name)},
                      {"schema", {{"type", "string"}}}});
  }
  for (auto& q : r.query)
    params.push_back({{"name", q.name}, {"in", "query"}, {"description", q.description}, {"schema", schema_of(q.type)}});
  if (!params.empty()) op["parameters"] = params;
  if (!r.body.empty()) {
    json props = json::object();
    auto required = json::array();
    for (auto& b : r.body) {
      props[b.name] = schema_of(b.type);
      props[b.name]["description"] = b.description;
      if (b.required) required.push_back(b.name);
    }
    json schema = {{"type", "object"}, {"properties", props}, {"additionalProperties", false}};
    if (!required.empty()) schema["required"] = required;
    json media = {{"schema", schema}};
    if (!r.example.is_null()) media["example"] = r.example;
    op["requestBody"] = {{"required", !required.empty()}, {"content", {{"application/json", media}}}};
  }
  op["responses"] = {{std::to_string(static_cast<unsigned>(r.ok)),
                      {{"description", "the same JSON as the CLI's --json"},
                       {"content", {{"application/json", {{"schema", json::object()}}}}}}},
                     {"400", error_reply("a bad parameter or body")},
                     {"401", error_reply("no token, or not a valid one")},
                     {"404", error_reply("no such thing")},
                     {"429", error_reply("too many failed token checks from this address")}};
  if (r.changes) {
    op["responses"]["403"] = error_reply("a read-only token");
    op["responses"]["409"] = error_reply("it exists already");
    if (!r.body.empty()) op["responses"]["413"] = error_reply("a body over 1 MiB");
  }
  return op;
}

}  // namespace

json openapi(const std::vector<route>& routes) {
  json paths = json::object();
  for (auto& r : routes) {
    std::string method(http::to_string(r.method));
    for (auto& ch : method) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    paths[r.pattern][method] = operation(r);
  }
  auto plain = [](const char* summary, const char* type) {
    return json{{"get",
                 {{"summary", summary},
                  {"security", json::array()},
                  {"responses", {{"200", {{"description", "OK"}, {"content", {{type, {{"schema", {{"type", "string"}}}}}}}}}}}}}};
  };
  paths["/healthz"] = plain("Whether the server is up (no token)", "text/plain");
  paths["/metrics"] = plain("Prometheus metrics (no token)", "text/plain");
  return {{"openapi", "3.1.0"},
          {"info",
           {{"title", "smtpsd API"},
            {"version", SMTPSD_VERSION},
            {"description",
             "The operations of the smtpsd CLI over HTTP, with the same JSON as its --json. Every call needs "
             "Authorization: Bearer TOKEN (smtpsd token add NAME [--read-only]); read-only tokens get 403 on "
             "changes. Errors are {\"error\": TEXT}."}}},
          {"components",
           {{"securitySchemes", {{"token", {{"type", "http"}, {"scheme", "bearer"}}}}},
            {"schemas",
             {{"Error",
               {{"type", "object"}, {"properties", {{"error", {{"type", "string"}}}}}, {"required", {"error"}}}}}}}},
          {"security", json::array({{{"token", json::array()}}})},
          {"paths", paths}};
}

}  // namespace smtpsd::admin
