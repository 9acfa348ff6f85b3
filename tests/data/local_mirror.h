// A mirror of the data directory for download tests: cpp-httplib on
// 127.0.0.1 and a free port, in this process, serving the files under a temp
// dir (404 for the others). With `truncate`, every file is announced at its
// full length but only half is sent before the connection closes.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

namespace lcte::testing {

class LocalMirror {
 public:
  explicit LocalMirror(std::string dir, bool truncate = false) : dir_(std::move(dir)), truncate_(truncate) {
    server_.Get(R"(/(.+))", [this](const httplib::Request& req, httplib::Response& res) { serve(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~LocalMirror() {
    server_.stop();
    thread_.join();
  }
  LocalMirror(const LocalMirror&) = delete;
  LocalMirror& operator=(const LocalMirror&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int hits() const { return hits_; }  // files served (whole or cut)

 private:
  void serve(const httplib::Request& req, httplib::Response& res) {
    const std::string rel = req.matches[1];
    const std::filesystem::path path = std::filesystem::path(dir_) / rel;
    if (rel.find("..") != std::string::npos || !std::filesystem::is_regular_file(path)) {
      res.status = 404;
      return;
    }
    ++hits_;
    std::ifstream in(path, std::ios::binary);
    auto body = std::make_shared<std::string>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!truncate_) {
      res.set_content(*body, "application/octet-stream");
      return;
    }
    res.set_content_provider(body->size(), "application/octet-stream", [body](size_t, size_t, httplib::DataSink& sink) {
      sink.write(body->data(), body->size() / 2);
      return false;  // stop here: the client sees the connection close early
    });
  }

  std::string dir_;
  bool truncate_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> hits_{0};
};

}  // namespace lcte::testing
