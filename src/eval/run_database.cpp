#include "eval/run_database.h"

#include <sqlite3.h>

#include <cmath>
#include <ctime>
#include <filesystem>

#include "core/error.h"

namespace lcte::eval {
namespace fs = std::filesystem;

namespace {

constexpr int kSchemaVersion = 2;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
  task_id TEXT NOT NULL,
  sample_index INTEGER NOT NULL,
  status TEXT NOT NULL,
  passed INTEGER NOT NULL,
  error_type TEXT,
  error_message TEXT,
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  ttft_s REAL,
  tpot_s REAL,
  latency_s REAL,
  exec_s REAL,
  completion TEXT NOT NULL,
  code TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  isolation TEXT,
  notes TEXT,
  PRIMARY KEY (task_id, sample_index)
);
)sql";

// Schema 1 had neither the isolation nor the notes column.
const char* kUpgradeFrom1 = R"sql(
ALTER TABLE samples ADD COLUMN isolation TEXT;
ALTER TABLE samples ADD COLUMN notes TEXT;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
)sql";

std::string db_path(const std::string& dir) { return (fs::path(dir) / "run.sqlite").string(); }

void exec(sqlite3* db, const std::string& path, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string why = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    fail("{}: sqlite: {}", path, why);
  }
}

// A prepared statement that finalises itself.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
      fail("{}: sqlite: {} (in {})", path, sqlite3_errmsg(db), sql);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void bind(int i, const std::string& text) {
    sqlite3_bind_text(stmt_, i, text.data(), int(text.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, int value) { sqlite3_bind_int(stmt_, i, value); }
  void bind_optional(int i, int value) { value < 0 ? (void)sqlite3_bind_null(stmt_, i) : bind(i, value); }
  void bind_optional(int i, double value) {
    std::isnan(value) ? (void)sqlite3_bind_null(stmt_, i) : (void)sqlite3_bind_double(stmt_, i, value);
  }
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("{}: sqlite: {}", path_, sqlite3_errmsg(db_));
  }
  std::string text(int column) const {
    const unsigned char* value = sqlite3_column_text(stmt_, column);
    return value ? std::string(reinterpret_cast<const char*>(value), size_t(sqlite3_column_bytes(stmt_, column)))
                 : std::string();
  }
  int integer(int column, int if_null = -1) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL ? if_null : sqlite3_column_int(stmt_, column);
  }
  double real(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL ? std::nan("") : sqlite3_column_double(stmt_, column);
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* stmt_ = nullptr;
};

sqlite3* open_db(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    fail("{}: cannot open run database: {}", path, why);
  }
  sqlite3_busy_timeout(db, 10000);
  return db;
}

void configure(sqlite3* db, const std::string& path) {
  // WAL: readers (a dashboard, `lcte eval` reporting) never block the writer.
  // synchronous=NORMAL: a committed row survives the process being killed
  // (it is in the WAL file); only a power loss may drop the last commits.
  exec(db, path, "PRAGMA journal_mode=WAL;");
  exec(db, path, "PRAGMA synchronous=NORMAL;");
}

}  // namespace

RunDatabase::RunDatabase(std::string dir, sqlite3* db) : dir_(std::move(dir)), db_(db) {}

RunDatabase::RunDatabase(RunDatabase&& other) noexcept : dir_(std::move(other.dir_)), db_(other.db_) {
  other.db_ = nullptr;
}

RunDatabase::~RunDatabase() {
  if (db_ != nullptr) sqlite3_close(db_);
}

RunDatabase RunDatabase::create(const std::string& dir, const nlohmann::json& config) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("{}: cannot create run directory: {}", dir, ec.message());
  std::string path = db_path(dir);
  if (fs::exists(path)) fail("{}: a run already exists there (use --resume)", dir);
  sqlite3* db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX);
  RunDatabase store(dir, db);
  configure(db, path);
  exec(db, path, kSchema);
  store.set_meta("schema_version", std::to_string(kSchemaVersion));
  store.set_meta("config", config.dump());
  store.set_meta("created_at", utc_now_iso8601());
  return store;
}

RunDatabase RunDatabase::open(const std::string& dir) {
  std::string path = db_path(dir);
  if (!fs::is_regular_file(path)) fail("{}: not a run directory (no run.sqlite)", dir);
  sqlite3* db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX);
  RunDatabase store(dir, db);
  configure(db, path);
  std::string version;
  try {
    version = store.meta("schema_version");
  } catch (const Error& e) {
    fail("{}: not an lcte run database ({})", path, e.what());
  }
  if (version == "1") {
    exec(db, path, "BEGIN IMMEDIATE;");
    exec(db, path, kUpgradeFrom1);
    exec(db, path, "COMMIT;");
    version = store.meta("schema_version");
  }
  if (version != std::to_string(kSchemaVersion))
    fail("{}: run database schema version \"{}\", this lcte reads {}", path, version, kSchemaVersion);
  return store;
}

void RunDatabase::set_meta(const std::string& key, const std::string& value) {
  std::lock_guard lock(mutex_);
  std::string path = db_path(dir_);
  Statement stmt(db_, path, "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value=?2");
  stmt.bind(1, key);
  stmt.bind(2, value);
  stmt.step();
}

std::string RunDatabase::meta(const std::string& key) const {
  std::lock_guard lock(mutex_);
  std::string path = db_path(dir_);
  Statement stmt(db_, path, "SELECT value FROM meta WHERE key = ?1");
  stmt.bind(1, key);
  return stmt.step() ? stmt.text(0) : std::string();
}

nlohmann::json RunDatabase::config() const {
  std::string text = meta("config");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail("{}: stored configuration is not valid JSON: {}", db_path(dir_), e.what());
  }
}

void RunDatabase::write(const SampleRow& row) {
  std::lock_guard lock(mutex_);
  std::string path = db_path(dir_);
  // A single INSERT is its own transaction in SQLite (autocommit).
  Statement stmt(db_, path,
                 "INSERT INTO samples(task_id, sample_index, status, passed, error_type, error_message, "
                 "prompt_tokens, completion_tokens, ttft_s, tpot_s, latency_s, exec_s, completion, code, "
                 "finished_at, isolation, notes) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)");
  stmt.bind(1, row.task_id);
  stmt.bind(2, row.sample_index);
  stmt.bind(3, row.status);
  stmt.bind(4, row.passed ? 1 : 0);
  stmt.bind(5, row.error_type);
  stmt.bind(6, row.error_message);
  stmt.bind_optional(7, row.prompt_tokens);
  stmt.bind_optional(8, row.completion_tokens);
  stmt.bind_optional(9, row.time_to_first_token_s);
  stmt.bind_optional(10, row.time_per_output_token_s);
  stmt.bind_optional(11, row.latency_s);
  stmt.bind_optional(12, row.exec_seconds);
  stmt.bind(13, row.completion);
  stmt.bind(14, row.code);
  stmt.bind(15, row.finished_at);
  stmt.bind(16, row.isolation);
  stmt.bind(17, row.notes);
  stmt.step();
}

std::set<SampleKey> RunDatabase::finished() const {
  std::lock_guard lock(mutex_);
  std::string path = db_path(dir_);
  Statement stmt(db_, path, "SELECT task_id, sample_index FROM samples");
  std::set<SampleKey> keys;
  while (stmt.step()) keys.emplace(stmt.text(0), stmt.integer(1));
  return keys;
}

size_t RunDatabase::count() const {
  std::lock_guard lock(mutex_);
  std::string path = db_path(dir_);
  Statement stmt(db_, path, "SELECT COUNT(*) FROM samples");
  stmt.step();
  return size_t(stmt.integer(0, 0));
}

std::vector<SampleRow> RunDatabase::rows() const {
  std::lock_guard lock(mutex_);
  std::string path = db_path(dir_);
  Statement stmt(db_, path,
                 "SELECT task_id, sample_index, status, passed, error_type, error_message, prompt_tokens, "
                 "completion_tokens, ttft_s, tpot_s, latency_s, exec_s, completion, code, finished_at, "
                 "isolation, notes FROM samples ORDER BY task_id, sample_index");
  std::vector<SampleRow> rows;
  while (stmt.step()) {
    SampleRow row;
    row.task_id = stmt.text(0);
    row.sample_index = stmt.integer(1);
    row.status = stmt.text(2);
    row.passed = stmt.integer(3) != 0;
    row.error_type = stmt.text(4);
    row.error_message = stmt.text(5);
    row.prompt_tokens = stmt.integer(6);
    row.completion_tokens = stmt.integer(7);
    row.time_to_first_token_s = stmt.real(8);
    row.time_per_output_token_s = stmt.real(9);
    row.latency_s = stmt.real(10);
    row.exec_seconds = stmt.real(11);
    row.completion = stmt.text(12);
    row.code = stmt.text(13);
    row.finished_at = stmt.text(14);
    row.isolation = stmt.text(15);
    row.notes = stmt.text(16);
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace lcte::eval
