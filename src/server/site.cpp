#include "server/site.h"

#include <arpa/inet.h>
#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include <fmt/format.h>

namespace lcte::server {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

bool is_ipv4_loopback(const std::string& host) {
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) != 1) return false;
  return (ntohl(a.s_addr) >> 24) == 127;
}

bool is_ipv6_loopback(const std::string& host) {
  in6_addr a{};
  if (inet_pton(AF_INET6, host.c_str(), &a) != 1) return false;
  return IN6_IS_ADDR_LOOPBACK(&a);
}

bool is_loopback_name(const std::string& host) {
  return host == "localhost" || is_ipv4_loopback(host) || is_ipv6_loopback(host);
}

bool body_method(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

}  // namespace

bool is_loopback_address(std::string_view host) {
  std::string h = lower(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  return is_loopback_name(h);
}

std::optional<Authority> parse_authority(std::string_view value) {
  if (value.empty()) return std::nullopt;
  for (char c : value)
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '@' || c == '\\') return std::nullopt;
  Authority a;
  std::string_view rest;
  if (value.front() == '[') {
    size_t close = value.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    a.host = lower(value.substr(1, close - 1));
    rest = value.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
  } else {
    size_t colon = value.find(':');
    if (colon != std::string_view::npos && value.find(':', colon + 1) != std::string_view::npos)
      return std::nullopt;  // a bare IPv6 address must be bracketed
    a.host = lower(value.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : value.substr(colon);
  }
  if (a.host.empty()) return std::nullopt;
  if (!rest.empty()) {
    std::string_view digits = rest.substr(1);
    if (digits.empty() || digits.size() > 5) return std::nullopt;
    int port = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) return std::nullopt;
    a.port = port;
  }
  return a;
}

std::optional<Refusal> check_host(const SitePolicy& site, std::string_view host_header) {
  if (!site.loopback_only) return std::nullopt;
  auto a = parse_authority(host_header);
  const std::string hint = fmt::format("open it as http://127.0.0.1:{}/ or http://localhost:{}/", site.port, site.port);
  if (!a || !is_loopback_name(a->host))
    return Refusal{403, "bad_host",
                   fmt::format("Host \"{}\" is not a loopback name for this server (numeric 127.x.x.x, localhost or "
                               "[::1]); {}",
                               host_header, hint)};
  int port = a->port < 0 ? 80 : a->port;
  if (port != site.port)
    return Refusal{403, "bad_host",
                   fmt::format("Host \"{}\" names port {}, but this server listens on {}; {}", host_header, port,
                               site.port, hint)};
  return std::nullopt;
}

std::optional<Refusal> check_origin(std::string_view origin, std::string_view host_header) {
  if (origin.empty()) return std::nullopt;
  if (lower(origin) == "http://" + lower(host_header)) return std::nullopt;
  return Refusal{403, "bad_origin",
                 fmt::format("Origin \"{}\" is not this server (http://{}): cross-site requests are refused", origin,
                             host_header)};
}

bool is_json_content_type(std::string_view content_type) {
  std::string ct = lower(content_type);
  size_t semi = ct.find(';');
  std::string type = ct.substr(0, semi);
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back()))) type.pop_back();
  return type == "application/json";
}

std::optional<Refusal> check_request(const SitePolicy& site, const httplib::Request& req, bool api) {
  const std::string host = req.get_header_value("Host");
  if (auto r = check_host(site, host)) return r;
  const bool changes = req.method != "GET" && req.method != "HEAD" && req.method != "OPTIONS";
  if (changes || api) {
    if (auto r = check_origin(req.get_header_value("Origin"), host)) return r;
    // Browsers send Sec-Fetch-Site on every request: a page of another site or
    // of another port of this host ("same-site") is not this server.
    const std::string fetch_site = lower(req.get_header_value("Sec-Fetch-Site"));
    if (!fetch_site.empty() && fetch_site != "same-origin" && fetch_site != "none")
      return Refusal{
          403, "cross_site",
          fmt::format("Sec-Fetch-Site \"{}\": only this server's own pages may send this request", fetch_site)};
  }
  if (body_method(req.method) && !is_json_content_type(req.get_header_value("Content-Type")))
    return Refusal{415, "bad_content_type",
                   fmt::format("Content-Type \"{}\": {} {} needs Content-Type: application/json",
                               req.get_header_value("Content-Type"), req.method, req.path)};
  return std::nullopt;
}

}  // namespace lcte::server
