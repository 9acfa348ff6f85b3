#include "store/mlflow_rest.h"

#include <curl/curl.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/error.h"
#include "store/mlflow_export.h"

namespace lcte::store {
namespace {

using nlohmann::json;

// MLflow's per-call limits for runs/log-batch.
constexpr size_t kBatchMetrics = 1000;
constexpr size_t kBatchParams = 100;
constexpr size_t kBatchTags = 100;

void curl_init_once() {
  struct Once {
    Once() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  };
  static Once once;  // curl_global_init is not thread-safe; do it once
}

size_t append_cb(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

// One tracking server; each call is a fresh easy handle (a handful of calls per export).
class Client {
 public:
  explicit Client(const MlflowRestOptions& o) : o_(o) {
    curl_init_once();
    while (!o_.uri.empty() && o_.uri.back() == '/') o_.uri.pop_back();
    if (o_.uri.rfind("http://", 0) != 0 && o_.uri.rfind("https://", 0) != 0)
      fail("--mlflow-uri '{}': expected http://HOST:PORT or https://...", o_.uri);
  }

  json get(const std::string& endpoint, const std::string& query) {
    return call("GET", endpoint, query, nullptr, nullptr);
  }
  json post(const std::string& endpoint, const json& body) {
    std::string text = body.dump();
    return call("POST", endpoint, "", &text, nullptr);
  }
  void put_bytes(const std::string& endpoint, const std::string& bytes) { call("PUT", endpoint, "", &bytes, nullptr); }
  void put_file(const std::string& endpoint, const std::string& path) {
    std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
    if (!f) fail("{}: cannot read", path);
    call("PUT", endpoint, "", nullptr, f.get());
  }

  std::string escape(const std::string& s) {
    char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
    std::string out = e ? e : "";
    curl_free(e);
    return out;
  }
  const std::string& uri() const { return o_.uri; }

 private:
  // A body from `text` (POST, PUT) or streamed from `file` (PUT).
  json call(const std::string& method, const std::string& endpoint, const std::string& query, const std::string* text,
            FILE* file) {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) fail("MLflow: cannot start libcurl");
    CURL* c = curl.get();
    std::string url = o_.uri + endpoint + (query.empty() ? "" : "?" + query);
    curl_slist* headers = nullptr;
    headers = curl_slist_append(
        headers, file || method == "PUT" ? "Content-Type: application/octet-stream" : "Content-Type: application/json");
    if (!o_.token.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + o_.token).c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers, curl_slist_free_all);
    if (o_.token.empty() && !o_.username.empty()) {
      curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(c, CURLOPT_USERNAME, o_.username.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, o_.password.c_str());
    }
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (file) {
      std::fseek(file, 0, SEEK_END);
      long size = std::ftell(file);
      std::rewind(file);
      curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);  // PUT, read by fread from READDATA
      curl_easy_setopt(c, CURLOPT_READDATA, file);
      curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
    } else if (text) {
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, text->data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(text->size()));
    }
    std::string reply;
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(o_.timeout_s * 1000));
    CURLcode code = curl_easy_perform(c);
    if (code != CURLE_OK) fail("MLflow {} {}: {}", method, url, curl_easy_strerror(code));
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    json body = json::parse(reply, nullptr, false);
    if (status >= 200 && status < 300) return body.is_discarded() ? json::object() : body;
    if (body.is_object() && body.contains("error_code"))
      fail("MLflow {} {}: HTTP {} {}: {}", method, endpoint, status, body.value("error_code", ""),
           body.value("message", ""));
    fail("MLflow {} {}: HTTP {}: {}", method, endpoint, status, reply.substr(0, 300));
  }

  MlflowRestOptions o_;
};

json metric_value(double v) {
  // Protobuf's JSON mapping spells non-finite doubles as strings; plain JSON has no NaN.
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

json key_values(const std::vector<std::pair<std::string, std::string>>& kv, size_t from, size_t n) {
  json out = json::array();
  for (size_t i = from; i < kv.size() && i < from + n; ++i)
    out.push_back({{"key", kv[i].first}, {"value", kv[i].second}});
  return out;
}

std::string find_or_create_experiment(Client& client, const std::string& name) {
  try {
    json r = client.get("/api/2.0/mlflow/experiments/get-by-name", "experiment_name=" + client.escape(name));
    return r.at("experiment").at("experiment_id").get<std::string>();
  } catch (const Error& e) {
    // Absent experiments answer 404 RESOURCE_DOES_NOT_EXIST; anything else is a real failure.
    if (std::string(e.what()).find("RESOURCE_DOES_NOT_EXIST") == std::string::npos) throw;
  } catch (const json::exception&) {
    fail("MLflow experiments/get-by-name: reply without experiment.experiment_id");
  }
  json r = client.post("/api/2.0/mlflow/experiments/create", {{"name", name}});
  if (!r.contains("experiment_id")) fail("MLflow experiments/create: reply without experiment_id");
  return r["experiment_id"].get<std::string>();
}

// The path under /api/2.0/mlflow-artifacts/artifacts/ for the run's artifact
// root: taken from the run's "mlflow-artifacts:" URI when the server gives one.
std::string artifact_root(const json& info, const std::string& experiment_id, const std::string& run_id) {
  std::string uri = info.value("artifact_uri", "");
  if (uri.empty()) return experiment_id + "/" + run_id + "/artifacts";
  const std::string scheme = "mlflow-artifacts:";
  if (uri.rfind(scheme, 0) != 0)
    fail(
        "MLflow stores this run's artifacts at '{}', which it does not proxy; start `mlflow server` with "
        "--serve-artifacts (the default since MLflow 2.0) so lcte can upload them",
        uri);
  std::string rest = uri.substr(scheme.size());
  if (rest.rfind("//", 0) == 0) {  // mlflow-artifacts://host:port/path
    size_t slash = rest.find('/', 2);
    rest = slash == std::string::npos ? "" : rest.substr(slash);
  }
  while (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
  return rest;
}

std::string escape_path(Client& client, const std::string& path) {
  std::string out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (start > 0) out += '/';
    out += client.escape(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

// Params, metrics, the tags runs/create could not take, and the artifacts.
void log_contents(Client& client, const MlflowRun& m, const json& info, MlflowRestResult& out) {
  // One kind per batch keeps every call inside its own limit and the 1000-entry total.
  auto batch = [&](const char* field, json items) {
    client.post("/api/2.0/mlflow/runs/log-batch", {{"run_id", out.run_id}, {field, std::move(items)}});
  };
  for (size_t i = kBatchTags; i < m.tags.size(); i += kBatchTags) batch("tags", key_values(m.tags, i, kBatchTags));
  for (size_t i = 0; i < m.params.size(); i += kBatchParams) batch("params", key_values(m.params, i, kBatchParams));
  for (size_t i = 0; i < m.metrics.size(); i += kBatchMetrics) {
    json items = json::array();
    for (size_t j = i; j < m.metrics.size() && j < i + kBatchMetrics; ++j)
      items.push_back({{"key", m.metrics[j].key},
                       {"value", metric_value(m.metrics[j].value)},
                       {"timestamp", m.metrics[j].timestamp_ms},
                       {"step", m.metrics[j].step}});
    batch("metrics", std::move(items));
  }
  out.tags = m.tags.size();
  out.params = m.params.size();
  out.metrics = m.metrics.size();

  std::string root = artifact_root(info, out.experiment_id, out.run_id);
  for (const MlflowArtifact& a : m.artifacts) {
    std::string endpoint = "/api/2.0/mlflow-artifacts/artifacts/" + escape_path(client, root + "/" + a.name);
    if (!a.path.empty()) {
      std::error_code ec;
      if (!std::filesystem::is_regular_file(a.path, ec)) continue;  // a run's files may have been cleaned up since
      client.put_file(endpoint, a.path);
    } else {
      client.put_bytes(endpoint, a.content);
    }
    ++out.artifacts;
  }
}

int64_t now_ms() { return unix_millis(std::chrono::system_clock::now()); }

}  // namespace

void mlflow_credentials_from_env(MlflowRestOptions& o) {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  o.token = env("MLFLOW_TRACKING_TOKEN");
  o.username = env("MLFLOW_TRACKING_USERNAME");
  o.password = env("MLFLOW_TRACKING_PASSWORD");
}

MlflowRestResult export_mlflow_rest(Store& store, const std::string& run_id, const MlflowRestOptions& options) {
  MlflowRun m = collect_mlflow_run(store, run_id);
  Client client(options);
  MlflowRestResult out;
  out.experiment_id =
      find_or_create_experiment(client, options.experiment.empty() ? m.experiment_name : options.experiment);

  json created = client.post("/api/2.0/mlflow/runs/create", {{"experiment_id", out.experiment_id},
                                                             {"run_name", m.run_name},
                                                             {"start_time", m.start_ms},
                                                             {"tags", key_values(m.tags, 0, kBatchTags)}});
  json info = created.contains("run") ? created["run"].value("info", json::object()) : json::object();
  out.run_id = info.value("run_id", info.value("run_uuid", ""));
  if (out.run_id.empty()) fail("MLflow runs/create: reply without run.info.run_id");

  try {
    log_contents(client, m, info, out);
  } catch (const Error& e) {
    // A half-logged run would show as RUNNING for ever; mark it FAILED so it stands out.
    std::string note;
    try {
      client.post("/api/2.0/mlflow/runs/update",
                  {{"run_id", out.run_id}, {"status", "FAILED"}, {"end_time", now_ms()}});
      note = fmt::format(" (MLflow run {} marked FAILED)", out.run_id);
    } catch (const Error&) {}
    throw Error(e.what() + note);
  }

  json update = {{"run_id", out.run_id}, {"status", m.status}};
  if (m.end_ms) update["end_time"] = m.end_ms;
  client.post("/api/2.0/mlflow/runs/update", update);
  out.url = fmt::format("{}/#/experiments/{}/runs/{}", client.uri(), out.experiment_id, out.run_id);
  return out;
}

}  // namespace lcte::store
