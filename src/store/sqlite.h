// A thin RAII layer over the SQLite C API: a connection, prepared statements
// with typed binds and columns, and transactions. Every error names the
// database file and the SQLite message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace lcte::store {

class Database {
 public:
  // Opens (creating) the file, with WAL, foreign keys and a busy timeout so
  // that readers never block the writer and a second writer waits.
  explicit Database(const std::string& path);
  ~Database();
  Database(Database&& other) noexcept;
  Database& operator=(Database&&) = delete;
  Database(const Database&) = delete;

  void exec(std::string_view sql);
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  int64_t last_insert_rowid() const;
  int changes() const;
  [[noreturn]] void fail_with(std::string_view what) const;

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

class Statement {
 public:
  Statement(const Database& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;

  Statement& bind(int i, int64_t v);
  Statement& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Statement& bind(int i, double v);
  Statement& bind(int i, std::string_view v);
  Statement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Statement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Statement& bind_null(int i);
  Statement& bind(int i, const std::optional<double>& v) { return v ? bind(i, *v) : bind_null(i); }
  Statement& bind(int i, const std::optional<std::string>& v) { return v ? bind(i, *v) : bind_null(i); }

  bool step();  // true while a row is available
  void run();   // step to completion
  void reset();

  bool is_null(int col) const;
  int64_t int64(int col) const;
  double real(int col) const;
  std::optional<double> opt_real(int col) const;
  std::string text(int col) const;  // "" for NULL

 private:
  const Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Commits on commit(), rolls back if destroyed without it.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace lcte::store
