// Who may talk to lcte's HTTP servers (lcte serve, lcte dashboard): one
// definition of a loopback address, of an acceptable Host header and of a
// same-origin request, shared by the bind rule (beyond loopback a key or token
// is required), the OpenAI-compatible API and the dashboard.
//
// A page in a browser is the adversary here: through DNS rebinding it can make
// the browser send requests to 127.0.0.1 under a name of its own (the Host
// header then carries that name), and any page can make the browser POST
// "simple" cross-site requests (text/plain, forms) that need no preflight.
// So, on a loopback binding, the Host must be a loopback name with the
// server's port; requests that carry a body must say application/json (a
// cross-site page cannot send that without a CORS preflight, which lcte never
// grants); and an Origin, when the browser sends one, must be this server.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace httplib {
struct Request;
}

namespace lcte::server {

// A bind address on this machine only: numeric 127.0.0.0/8, ::1 (any IPv6
// spelling, with or without brackets) or "localhost". "127.0.0.1.example" is
// not one.
bool is_loopback_address(std::string_view host);

// "host:port", "[v6]:port" or "host" split; port -1 when absent. nullopt for
// an empty or malformed value (bad port, unbalanced brackets, spaces).
struct Authority {
  std::string host;  // lower case, brackets removed
  int port = -1;
};
std::optional<Authority> parse_authority(std::string_view value);

struct SitePolicy {
  bool loopback_only = true;  // bound to a loopback address
  int port = 0;               // the port the server listens on
};

struct Refusal {
  int status = 403;
  std::string code;     // "bad_host", "bad_origin", "bad_content_type", "cross_site"
  std::string message;  // says what was wrong and what is accepted
};

// The Host header check: on a loopback binding the name must be a loopback
// address (as above) and the port the server's (absent only for port 80).
// Beyond loopback any name is accepted (the key or token guards that server).
std::optional<Refusal> check_host(const SitePolicy& site, std::string_view host_header);

// An Origin header, when present, must be http://<Host> exactly (scheme, name
// and port); "null" (sandboxed frames, file:// pages) never matches.
std::optional<Refusal> check_origin(std::string_view origin, std::string_view host_header);

// application/json, with or without parameters (charset=utf-8).
bool is_json_content_type(std::string_view content_type);

// Every check above for one request: Host always; for requests that can
// change state (any method but GET, HEAD and OPTIONS) or that reach the
// OpenAI API (`api` true), a matching Origin when one is sent and no
// Sec-Fetch-Site other than same-origin or none; and for methods that carry
// a body, Content-Type application/json.
std::optional<Refusal> check_request(const SitePolicy& site, const httplib::Request& req, bool api);

}  // namespace lcte::server
