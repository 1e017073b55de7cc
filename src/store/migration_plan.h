// What `growhook migrate` carries from a SQLite store to PostgreSQL: one
// list, table by table and column by column, read by the mover
// (sqlite_to_postgres.cc) and checked against the SQLite schema by
// migration_plan_test.cc, which fails when a column of the schema is in
// neither `columns` nor `left`. So a schema change (a migration in
// sqlite_schema.cc and pg_schema.cc) must say here what becomes of its
// columns, or the tests fail.
//
// Rows: without --with-history, what is still to be delivered and what a
// person may still retry (pending and failed batches with their attempts,
// and every event that a webhook's cursor or such a batch still needs);
// with it, everything. Each table names its filter for both cases as SQL
// over its SQLite rows (the table itself is `t`).
#pragma once

#include <string>
#include <vector>

namespace growhook {

struct ColumnPlan {
  const char* name;              // the column, the same name in both stores
  const char* source = nullptr;  // a SQLite expression over `t` for its value; nullptr: the column itself
};

// A column of the SQLite schema that is deliberately not carried (the
// PostgreSQL column must then have a default, or not exist).
struct LeftColumn {
  const char* name;
  const char* why;
};

struct TablePlan {
  const char* table;                // the same name in both stores
  std::vector<ColumnPlan> columns;  // carried, in COPY order
  std::vector<LeftColumn> left;     // in the SQLite schema, not carried
  const char* pending_where;        // rows carried without --with-history; "" for all
  const char* history_where;        // rows carried with --with-history; "" for all
};

// The meta key that `growhook migrate` writes into the SQLite store it
// moved (when, and to which database); serve refuses such a data folder.
inline constexpr const char* kMovedToPostgresKey = "moved_to_postgres";

// The tables in an order that satisfies the foreign keys.
const std::vector<TablePlan>& migration_plan();

// Tables of the SQLite schema that are not carried at all, and why.
struct LeftTable {
  const char* table;
  const char* why;
};
const std::vector<LeftTable>& tables_left_behind();

// Run on the SQLite connection, in the read transaction, before the rows
// are read: the temporary tables the filters use.
extern const char* const kMigrationSetupSql;

// The SELECT that reads a table's carried rows from SQLite.
std::string migration_select(const TablePlan& t, bool with_history);

}  // namespace growhook
