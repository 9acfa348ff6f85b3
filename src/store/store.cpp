#include "store/store.h"

#include <cstdlib>
#include <filesystem>

#include "core/error.h"

namespace lcte::store {
namespace {

using nlohmann::json;

// Each entry moves the schema from version i to i + 1. Never edit a released
// entry: add a new one.
const std::vector<const char*>& migrations() {
  static const std::vector<const char*> m = {
      // 1: the first schema.
      R"sql(
      CREATE TABLE experiments(
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
      CREATE TABLE runs(
        id TEXT PRIMARY KEY,
        experiment_id INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL DEFAULT '',
        config TEXT NOT NULL DEFAULT '{}',
        model_name TEXT NOT NULL DEFAULT '',
        model_path TEXT NOT NULL DEFAULT '',
        model_sha256 TEXT NOT NULL DEFAULT '',
        code_version TEXT NOT NULL DEFAULT '',
        machine TEXT NOT NULL DEFAULT '{}',
        summary TEXT NOT NULL DEFAULT '{}');
      CREATE TABLE params(
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        key TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY(run_id, key));
      CREATE TABLE metrics(
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name TEXT NOT NULL, step INTEGER NOT NULL, t REAL NOT NULL, value REAL NOT NULL);
      CREATE INDEX metrics_by_run ON metrics(run_id, name, step);
      CREATE TABLE samples(
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        suite TEXT NOT NULL, task_id TEXT NOT NULL, model TEXT NOT NULL,
        sample_index INTEGER NOT NULL, temperature REAL NOT NULL,
        status TEXT NOT NULL, passed INTEGER NOT NULL, error_type TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
        ttft_s REAL, tpot_s REAL, latency_s REAL, exec_s REAL,
        completion TEXT NOT NULL,
        PRIMARY KEY(run_id, task_id, sample_index));
      CREATE TABLE decisions(
        id INTEGER PRIMARY KEY,
        run_id TEXT REFERENCES runs(id) ON DELETE CASCADE,
        time TEXT NOT NULL, query_hash TEXT NOT NULL, n_tokens INTEGER NOT NULL,
        features TEXT NOT NULL, score INTEGER NOT NULL, policy TEXT NOT NULL,
        policy_version TEXT NOT NULL, tier TEXT NOT NULL, override INTEGER NOT NULL,
        decision_us REAL NOT NULL, reason TEXT NOT NULL, outcome INTEGER);
      CREATE INDEX decisions_by_run ON decisions(run_id, id);
      CREATE TABLE artifacts(
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL,
        PRIMARY KEY(run_id, name));
      )sql",
      // 2: energy per sample, and where a run keeps its files.
      R"sql(
      ALTER TABLE samples ADD COLUMN energy_j REAL;
      ALTER TABLE runs ADD COLUMN run_dir TEXT NOT NULL DEFAULT '';
      )sql",
      // 3: which tokenizer counted a routing decision, and whether counting stopped early.
      R"sql(
      ALTER TABLE decisions ADD COLUMN tokenizer TEXT NOT NULL DEFAULT '';
      ALTER TABLE decisions ADD COLUMN n_tokens_at_least INTEGER NOT NULL DEFAULT 0;
      )sql",
  };
  return m;
}

int read_version(Database& db) {
  db.exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
  Statement q(db, "SELECT version FROM schema_version");
  if (!q.step()) {
    Statement ins(db, "INSERT INTO schema_version(version) VALUES (0)");
    ins.run();
    return 0;
  }
  return static_cast<int>(q.int64(0));
}

void migrate_to(Database& db, int target) {
  Transaction tx(db);
  int v = read_version(db);
  if (v > static_cast<int>(migrations().size()))
    fail("{}: store schema version {} is newer than this lcte knows ({}); use a newer lcte", db.path(), v,
         migrations().size());
  for (; v < target; ++v) db.exec(migrations()[static_cast<size_t>(v)]);
  Statement set(db, "UPDATE schema_version SET version = ?");
  set.bind(1, static_cast<int64_t>(v)).run();
  tx.commit();
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json parse_or_empty(const std::string& s) {
  json j = json::parse(s, nullptr, false);
  return j.is_discarded() ? json::object() : j;
}

}  // namespace

json to_json(const RunRecord& r) {
  return {{"id", r.id},
          {"experiment", r.experiment},
          {"kind", r.kind},
          {"name", r.name},
          {"status", r.status},
          {"started_at", r.started_at},
          {"finished_at", r.finished_at},
          {"config", r.config},
          {"model", r.model_name},
          {"model_path", r.model_path},
          {"model_sha256", r.model_sha256},
          {"code_version", r.code_version},
          {"machine", r.machine},
          {"summary", r.summary},
          {"run_dir", r.run_dir}};
}

json to_json(const StoredDecision& d) {
  return {{"time", d.time},
          {"query_hash", d.query_hash},
          {"n_tokens", d.n_tokens},
          {"n_tokens_at_least", d.n_tokens_at_least},
          {"tokenizer", d.tokenizer},
          {"features", d.features},
          {"score", d.score},
          {"policy", d.policy},
          {"policy_version", d.policy_version},
          {"tier", d.tier},
          {"override", d.override_applied},
          {"decision_us", d.decision_us},
          {"reason", d.reason},
          {"outcome", d.outcome ? json(*d.outcome) : json(nullptr)}};
}

std::string Store::default_path() {
  if (const char* p = std::getenv("LCTE_STORE"); p && *p) return p;
  std::string base;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x)
    base = x;
  else if (const char* h = std::getenv("HOME"); h && *h)
    base = std::string(h) + "/.local/share";
  else
    base = ".";
  return base + "/lcte/lcte.sqlite";
}

int Store::latest_version() { return static_cast<int>(migrations().size()); }

Store::Store(const std::string& path)
    : db_([&] {
        std::filesystem::path p(path);
        if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
        return Database(path);
      }()) {
  migrate();
}

void Store::create_at_version(const std::string& path, int version) {
  Database db(path);
  migrate_to(db, version);
}

void Store::migrate() { migrate_to(db_, latest_version()); }

int Store::schema_version() {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement q(db_, "SELECT version FROM schema_version");
  return q.step() ? static_cast<int>(q.int64(0)) : 0;
}

void Store::begin_run(const RunRecord& r) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (r.id.empty()) fail("{}: a run needs an id", db_.path());
  Transaction tx(db_);
  std::optional<int64_t> experiment;
  if (!r.experiment.empty()) {
    Statement ins(db_, "INSERT OR IGNORE INTO experiments(name) VALUES (?)");
    ins.bind(1, r.experiment).run();
    Statement q(db_, "SELECT id FROM experiments WHERE name = ?");
    q.bind(1, r.experiment);
    if (q.step()) experiment = q.int64(0);
  }
  Statement exists(db_, "SELECT 1 FROM runs WHERE id = ?");
  exists.bind(1, r.id);
  if (exists.step()) fail("{}: run {} already exists", db_.path(), r.id);
  Statement s(db_,
              "INSERT INTO runs(id, experiment_id, kind, name, status, started_at, finished_at, config, model_name, "
              "model_path, model_sha256, code_version, machine, summary, run_dir) "
              "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  s.bind(1, r.id);
  if (experiment)
    s.bind(2, *experiment);
  else
    s.bind_null(2);
  s.bind(3, r.kind).bind(4, r.name).bind(5, r.status).bind(6, r.started_at).bind(7, r.finished_at);
  s.bind(8, dump(r.config)).bind(9, r.model_name).bind(10, r.model_path).bind(11, r.model_sha256);
  s.bind(12, r.code_version).bind(13, dump(r.machine)).bind(14, dump(r.summary)).bind(15, r.run_dir);
  s.run();
  tx.commit();
}

void Store::finish_run(const std::string& id, const std::string& status, const json& summary) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_,
              "UPDATE runs SET status = ?, summary = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') "
              "WHERE id = ?");
  s.bind(1, status).bind(2, dump(summary)).bind(3, id).run();
  if (db_.changes() == 0) fail("{}: no run {}", db_.path(), id);
}

void Store::reopen_run(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "UPDATE runs SET status = 'running', finished_at = '' WHERE id = ?");
  s.bind(1, id).run();
  if (db_.changes() == 0) fail("{}: no run {}", db_.path(), id);
}

void Store::set_params(const std::string& id, const std::map<std::string, std::string>& params) {
  std::lock_guard<std::mutex> lock(mutex_);
  Transaction tx(db_);
  Statement s(db_, "INSERT OR REPLACE INTO params(run_id, key, value) VALUES (?,?,?)");
  for (const auto& [k, v] : params) {
    s.reset();
    s.bind(1, id).bind(2, k).bind(3, v).run();
  }
  tx.commit();
}

void Store::add_metrics(const std::string& id, const std::vector<MetricPoint>& points) {
  std::lock_guard<std::mutex> lock(mutex_);
  Transaction tx(db_);
  Statement s(db_, "INSERT INTO metrics(run_id, name, step, t, value) VALUES (?,?,?,?,?)");
  for (const MetricPoint& p : points) {
    s.reset();
    s.bind(1, id).bind(2, p.name).bind(3, p.step).bind(4, p.t).bind(5, p.value).run();
  }
  tx.commit();
}

void Store::add_sample(const std::string& run_id, const StoredSample& x) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(
      db_,
      "INSERT OR REPLACE INTO samples(run_id, suite, task_id, model, sample_index, temperature, status, passed, "
      "error_type, prompt_tokens, completion_tokens, ttft_s, tpot_s, latency_s, exec_s, energy_j, completion) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  s.bind(1, run_id).bind(2, x.suite).bind(3, x.task_id).bind(4, x.model).bind(5, x.sample_index);
  s.bind(6, x.temperature).bind(7, x.status).bind(8, static_cast<int64_t>(x.passed)).bind(9, x.error_type);
  s.bind(10, x.prompt_tokens).bind(11, x.completion_tokens).bind(12, x.ttft_s).bind(13, x.tpot_s);
  s.bind(14, x.latency_s).bind(15, x.exec_s).bind(16, x.energy_j).bind(17, x.completion);
  s.run();
}

int64_t Store::add_decision(const StoredDecision& d) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(
      db_,
      "INSERT INTO decisions(run_id, time, query_hash, n_tokens, features, score, policy, policy_version, tier, "
      "override, decision_us, reason, outcome, tokenizer, n_tokens_at_least) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  s.bind(1, d.run_id).bind(2, d.time).bind(3, d.query_hash).bind(4, d.n_tokens).bind(5, dump(d.features));
  s.bind(6, d.score).bind(7, d.policy).bind(8, d.policy_version).bind(9, d.tier);
  s.bind(10, static_cast<int64_t>(d.override_applied)).bind(11, d.decision_us).bind(12, d.reason);
  if (d.outcome)
    s.bind(13, static_cast<int64_t>(*d.outcome));
  else
    s.bind_null(13);
  s.bind(14, d.tokenizer).bind(15, static_cast<int64_t>(d.n_tokens_at_least));
  s.run();
  return db_.last_insert_rowid();
}

void Store::set_decision_outcome(int64_t decision_id, bool passed) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "UPDATE decisions SET outcome = ? WHERE id = ?");
  s.bind(1, static_cast<int64_t>(passed)).bind(2, decision_id).run();
}

void Store::add_artifact(const std::string& id, const Artifact& a) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "INSERT OR REPLACE INTO artifacts(run_id, name, path, kind) VALUES (?,?,?,?)");
  s.bind(1, id).bind(2, a.name).bind(3, a.path).bind(4, a.kind).run();
}

namespace {

constexpr const char* kRunColumns =
    "r.id, COALESCE(e.name, ''), r.kind, r.name, r.status, r.started_at, r.finished_at, r.config, r.model_name, "
    "r.model_path, r.model_sha256, r.code_version, r.machine, r.summary, r.run_dir";

RunRecord read_run(const Statement& q) {
  RunRecord r;
  r.id = q.text(0);
  r.experiment = q.text(1);
  r.kind = q.text(2);
  r.name = q.text(3);
  r.status = q.text(4);
  r.started_at = q.text(5);
  r.finished_at = q.text(6);
  r.config = parse_or_empty(q.text(7));
  r.model_name = q.text(8);
  r.model_path = q.text(9);
  r.model_sha256 = q.text(10);
  r.code_version = q.text(11);
  r.machine = parse_or_empty(q.text(12));
  r.summary = parse_or_empty(q.text(13));
  r.run_dir = q.text(14);
  return r;
}

}  // namespace

std::vector<RunRecord> Store::list_runs(const RunFilter& f) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string sql =
      std::string("SELECT ") + kRunColumns +
      " FROM runs r LEFT JOIN experiments e ON e.id = r.experiment_id"
      " WHERE (?1 = '' OR r.kind = ?1) AND (?2 = '' OR e.name = ?2) AND (?3 = '' OR instr(r.model_name, ?3) > 0)"
      " ORDER BY r.started_at DESC, r.id DESC";
  if (f.limit > 0) sql += " LIMIT " + std::to_string(f.limit);
  Statement q(db_, sql);
  q.bind(1, f.kind).bind(2, f.experiment).bind(3, f.model);
  std::vector<RunRecord> out;
  while (q.step()) out.push_back(read_run(q));
  return out;
}

std::optional<RunRecord> Store::find_run(const std::string& id_or_prefix) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string sql = std::string("SELECT ") + kRunColumns +
                    " FROM runs r LEFT JOIN experiments e ON e.id = r.experiment_id WHERE r.id = ?1 OR substr(r.id, 1, "
                    "length(?1)) = ?1 ORDER BY (r.id = ?1) DESC LIMIT 3";
  Statement q(db_, sql);
  q.bind(1, id_or_prefix);
  std::vector<RunRecord> found;
  while (q.step()) found.push_back(read_run(q));
  if (found.empty()) return std::nullopt;
  if (found[0].id == id_or_prefix || found.size() == 1) return found[0];
  fail("run id prefix '{}' is ambiguous ({}, {}, ...)", id_or_prefix, found[0].id, found[1].id);
}

std::map<std::string, std::string> Store::params(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement q(db_, "SELECT key, value FROM params WHERE run_id = ? ORDER BY key");
  q.bind(1, id);
  std::map<std::string, std::string> out;
  while (q.step()) out[q.text(0)] = q.text(1);
  return out;
}

std::vector<MetricPoint> Store::metrics(const std::string& id, const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement q(db_,
              "SELECT name, step, t, value FROM metrics WHERE run_id = ?1 AND (?2 = '' OR name = ?2) "
              "ORDER BY name, step, t");
  q.bind(1, id).bind(2, name);
  std::vector<MetricPoint> out;
  while (q.step()) out.push_back({q.text(0), q.int64(1), q.real(2), q.real(3)});
  return out;
}

std::vector<StoredSample> Store::samples(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement q(
      db_,
      "SELECT suite, task_id, model, sample_index, temperature, status, passed, error_type, prompt_tokens, "
      "completion_tokens, ttft_s, tpot_s, latency_s, exec_s, energy_j, completion FROM samples WHERE run_id = ? "
      "ORDER BY task_id, sample_index");
  q.bind(1, id);
  std::vector<StoredSample> out;
  while (q.step()) {
    StoredSample s;
    s.suite = q.text(0);
    s.task_id = q.text(1);
    s.model = q.text(2);
    s.sample_index = q.int64(3);
    s.temperature = q.real(4);
    s.status = q.text(5);
    s.passed = q.int64(6) != 0;
    s.error_type = q.text(7);
    s.prompt_tokens = q.int64(8);
    s.completion_tokens = q.int64(9);
    s.ttft_s = q.opt_real(10);
    s.tpot_s = q.opt_real(11);
    s.latency_s = q.opt_real(12);
    s.exec_s = q.opt_real(13);
    s.energy_j = q.opt_real(14);
    s.completion = q.text(15);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<StoredDecision> Store::decisions(const std::optional<std::string>& run_id, size_t limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string sql =
      "SELECT run_id, time, query_hash, n_tokens, features, score, policy, policy_version, tier, override, "
      "decision_us, "
      "reason, outcome, tokenizer, n_tokens_at_least FROM decisions WHERE (?1 IS NULL OR run_id = ?1) ORDER BY id DESC";
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  Statement q(db_, sql);
  q.bind(1, run_id);
  std::vector<StoredDecision> out;
  while (q.step()) {
    StoredDecision d;
    if (!q.is_null(0)) d.run_id = q.text(0);
    d.time = q.text(1);
    d.query_hash = q.text(2);
    d.n_tokens = q.int64(3);
    d.features = parse_or_empty(q.text(4));
    d.score = q.int64(5);
    d.policy = q.text(6);
    d.policy_version = q.text(7);
    d.tier = q.text(8);
    d.override_applied = q.int64(9) != 0;
    d.decision_us = q.real(10);
    d.reason = q.text(11);
    if (!q.is_null(12)) d.outcome = q.int64(12) != 0;
    d.tokenizer = q.text(13);
    d.n_tokens_at_least = q.int64(14) != 0;
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<Artifact> Store::artifacts(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement q(db_, "SELECT name, path, kind FROM artifacts WHERE run_id = ? ORDER BY name");
  q.bind(1, id);
  std::vector<Artifact> out;
  while (q.step()) out.push_back({q.text(0), q.text(1), q.text(2)});
  return out;
}

bool Store::delete_run(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "DELETE FROM runs WHERE id = ?");
  s.bind(1, id).run();
  return db_.changes() > 0;
}

}  // namespace lcte::store
