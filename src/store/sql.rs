//! The sqlx plumbing the generic store code runs on, with sqlx's trait bounds written once.
//!
//! Code generic over a sqlx database needs bounds on types other than the database itself
//! (`&mut Connection: Executor`, `Arguments: IntoArguments`, `String: Encode<DB>`, `&str:
//! ColumnIndex<Row>`, ...), and Rust does not carry such bounds along with a trait bound
//! (only supertraits and associated-type bounds travel). So each capability is a small
//! trait *of the database* ([`Run`], [`Bind`], [`Get`]) implemented once, for every sqlx
//! database, by a blanket impl that holds the sqlx bounds; [`SqlDb`] gathers them as
//! supertraits, which do travel. Generic code asks for `B::Db: SqlDb` (through
//! [`Backend`](super::backend::Backend)) and never spells a sqlx bound.

use super::common::database;
use super::StoreError;
use futures_util::future::BoxFuture;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

/// A statement with its parameters bound. Statement texts are `'static` (embedded files)
/// and parameters are bound by value, so a query borrows nothing.
pub type Query<DB> = sqlx::query::Query<'static, DB, <DB as Database>::Arguments<'static>>;

/// Where a statement runs: on a pool (a single-statement write commits on return) or on
/// the connection of an open transaction (`&mut *tx`).
pub enum On<'e, DB: Database> {
    Pool(&'e Pool<DB>),
    Connection(&'e mut DB::Connection),
}

impl<'e, DB: Database> From<&'e Pool<DB>> for On<'e, DB> {
    fn from(pool: &'e Pool<DB>) -> Self {
        On::Pool(pool)
    }
}

impl<'e, DB: Database> From<&'e mut DB::Connection> for On<'e, DB> {
    fn from(connection: &'e mut DB::Connection) -> Self {
        On::Connection(connection)
    }
}

/// Running a bound statement on a pool or a connection.
pub trait Run: Database {
    fn execute(
        query: Query<Self>,
        on: On<'_, Self>,
    ) -> BoxFuture<'_, Result<Self::QueryResult, sqlx::Error>>;
    fn fetch_one(
        query: Query<Self>,
        on: On<'_, Self>,
    ) -> BoxFuture<'_, Result<Self::Row, sqlx::Error>>;
    fn fetch_optional(
        query: Query<Self>,
        on: On<'_, Self>,
    ) -> BoxFuture<'_, Result<Option<Self::Row>, sqlx::Error>>;
    fn fetch_all(
        query: Query<Self>,
        on: On<'_, Self>,
    ) -> BoxFuture<'_, Result<Vec<Self::Row>, sqlx::Error>>;
}

impl<DB> Run for DB
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    fn execute(
        query: Query<DB>,
        on: On<'_, DB>,
    ) -> BoxFuture<'_, Result<DB::QueryResult, sqlx::Error>> {
        match on {
            On::Pool(pool) => pool.execute(query),
            On::Connection(connection) => connection.execute(query),
        }
    }

    fn fetch_one(query: Query<DB>, on: On<'_, DB>) -> BoxFuture<'_, Result<DB::Row, sqlx::Error>> {
        match on {
            On::Pool(pool) => pool.fetch_one(query),
            On::Connection(connection) => connection.fetch_one(query),
        }
    }

    fn fetch_optional(
        query: Query<DB>,
        on: On<'_, DB>,
    ) -> BoxFuture<'_, Result<Option<DB::Row>, sqlx::Error>> {
        match on {
            On::Pool(pool) => pool.fetch_optional(query),
            On::Connection(connection) => connection.fetch_optional(query),
        }
    }

    fn fetch_all(
        query: Query<DB>,
        on: On<'_, DB>,
    ) -> BoxFuture<'_, Result<Vec<DB::Row>, sqlx::Error>> {
        match on {
            On::Pool(pool) => pool.fetch_all(query),
            On::Connection(connection) => connection.fetch_all(query),
        }
    }
}

/// Binding a parameter of Rust type `T`.
pub trait Bind<T>: Database {
    fn bind(query: Query<Self>, value: T) -> Query<Self>;
}

impl<DB, T> Bind<T> for DB
where
    DB: Database,
    T: 'static + Send + Encode<'static, DB> + Type<DB>,
{
    fn bind(query: Query<DB>, value: T) -> Query<DB> {
        query.bind(value)
    }
}

/// Reading a column of Rust type `T` by name.
pub trait Get<T>: Database {
    fn get(row: &Self::Row, name: &str) -> Result<T, sqlx::Error>;
}

impl<DB, T> Get<T> for DB
where
    DB: Database,
    T: for<'r> Decode<'r, DB> + Type<DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
{
    fn get(row: &DB::Row, name: &str) -> Result<T, sqlx::Error> {
        row.try_get(name)
    }
}

/// Everything the store code does with a database: run statements, bind and read the
/// column types both backends share. (The integer type that differs, `Backend::Int`, is
/// bound where it is declared.) [`Run`], [`Bind`] and [`Get`] hold for every sqlx
/// database by their blanket impls; this trait only gathers them, as supertraits.
pub trait SqlDb:
    Run
    + Bind<String>
    + Bind<Option<String>>
    + Bind<&'static str>
    + Bind<i32>
    + Bind<i64>
    + Bind<Option<i64>>
    + Bind<Option<f64>>
    + Bind<bool>
    + Bind<Vec<u8>>
    + Get<String>
    + Get<Option<String>>
    + Get<i64>
    + Get<Option<i64>>
    + Get<Option<f64>>
    + Get<bool>
    + Get<Vec<u8>>
{
}

// The two databases of the store; the supertraits above are the check that each can do
// all of it.
impl SqlDb for sqlx::Sqlite {}
impl SqlDb for sqlx::Postgres {}

/// A statement being bound: `Statement::new(sql).bind(a).bind(b).execute(on, doing)`.
/// `doing` says what the statement was for in the error of a failed call.
pub struct Statement<DB: Database> {
    query: Query<DB>,
}

impl<DB: SqlDb> Statement<DB> {
    pub fn new(sql: &'static str) -> Self {
        Statement {
            query: sqlx::query(sql),
        }
    }

    pub fn bind<T>(self, value: T) -> Self
    where
        DB: Bind<T>,
    {
        Statement {
            query: DB::bind(self.query, value),
        }
    }

    pub async fn execute<'e>(
        self,
        on: impl Into<On<'e, DB>>,
        doing: &str,
    ) -> Result<DB::QueryResult, StoreError> {
        self.try_execute(on).await.map_err(|e| database(doing, e))
    }

    /// [`Statement::execute`] for a caller that tells some errors apart itself.
    pub async fn try_execute<'e>(
        self,
        on: impl Into<On<'e, DB>>,
    ) -> Result<DB::QueryResult, sqlx::Error> {
        DB::execute(self.query, on.into()).await
    }

    pub async fn fetch_one<'e>(
        self,
        on: impl Into<On<'e, DB>>,
        doing: &str,
    ) -> Result<DB::Row, StoreError> {
        DB::fetch_one(self.query, on.into())
            .await
            .map_err(|e| database(doing, e))
    }

    pub async fn fetch_optional<'e>(
        self,
        on: impl Into<On<'e, DB>>,
        doing: &str,
    ) -> Result<Option<DB::Row>, StoreError> {
        DB::fetch_optional(self.query, on.into())
            .await
            .map_err(|e| database(doing, e))
    }

    pub async fn fetch_all<'e>(
        self,
        on: impl Into<On<'e, DB>>,
        doing: &str,
    ) -> Result<Vec<DB::Row>, StoreError> {
        DB::fetch_all(self.query, on.into())
            .await
            .map_err(|e| database(doing, e))
    }
}
