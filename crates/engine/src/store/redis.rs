//! The Redis store (cluster mode): every node of a cluster reads and writes the same keys, so
//! the compare-and-set must be atomic in Redis itself. It is one Lua script ([`SWAP`]): the
//! expected documents are compared and the new ones written inside one script run, which Redis
//! executes without interleaving any other command — of two nodes racing, exactly one matches.
//!
//! Keys, under `<prefix>:store:`: documents are strings; a history list is a sorted set scored
//! by timestamp (its members are the entries' bodies, unique by construction). A sorted set
//! rather than a stream: stream ids must grow, and nodes with their own clocks appending to one
//! channel cannot promise that; trimming by count (`ZREMRANGEBYRANK`) and by age
//! (`ZREMRANGEBYSCORE`) runs in the same script as the append.

use redis::aio::ConnectionManager;
use redis::Script;

use super::{Doc, HistoryEntry, Retention, Store, StoreFuture};
use crate::error::{Error, ErrorCode, Result};

/// KEYS = the expected keys, then the written keys; ARGV[1] = how many expected; then one value
/// per key ('' = no document / delete: a document is JSON, never empty).
const SWAP: &str = r"
local n = tonumber(ARGV[1])
for i = 1, n do
  local current = redis.call('GET', KEYS[i])
  local want = ARGV[i + 1]
  if want == '' then
    if current then return 0 end
  elseif current ~= want then
    return 0
  end
end
for i = n + 1, #KEYS do
  local value = ARGV[i + 1]
  if value == '' then redis.call('DEL', KEYS[i]) else redis.call('SET', KEYS[i], value) end
end
return 1
";

/// KEYS[1] = the history set; ARGV = score, member, max count, oldest score kept (0 = any).
const APPEND: &str = r"
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[3]) + 1))
if tonumber(ARGV[4]) > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4]) end
return 1
";

pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    swap: Script,
    append: Script,
}

fn failed(e: redis::RedisError) -> Error {
    Error::new(ErrorCode::StorageNotAvailable, format!("the Redis store failed: {e}"))
}

impl RedisStore {
    /// Connects to `url`; keys go under `<prefix>:store:`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(failed)?;
        let conn = ConnectionManager::new(client).await.map_err(failed)?;
        Ok(RedisStore {
            conn,
            prefix: format!("{prefix}:store:"),
            swap: Script::new(SWAP),
            append: Script::new(APPEND),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

impl Store for RedisStore {
    fn get(&self, keys: Vec<String>) -> StoreFuture<Vec<Doc>> {
        let mut conn = self.conn.clone();
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        Box::pin(async move {
            let mut cmd = redis::cmd("MGET");
            cmd.arg(&keys);
            cmd.query_async(&mut conn).await.map_err(failed)
        })
    }

    fn swap(&self, expect: Vec<(String, Doc)>, write: Vec<(String, Doc)>) -> StoreFuture<bool> {
        let mut conn = self.conn.clone();
        let script = self.swap.clone();
        let count = expect.len();
        let pairs: Vec<(String, String)> =
            expect.into_iter().chain(write).map(|(key, doc)| (self.key(&key), doc.unwrap_or_default())).collect();
        Box::pin(async move {
            let mut invocation = script.prepare_invoke();
            invocation.arg(count);
            for (key, doc) in &pairs {
                invocation.key(key).arg(doc);
            }
            let done: i64 = invocation.invoke_async(&mut conn).await.map_err(failed)?;
            Ok(done == 1)
        })
    }

    fn append(&self, entries: Vec<(String, HistoryEntry)>, keep: Retention) -> StoreFuture<Vec<Result<()>>> {
        // One script call per entry, sent together: the connection pipelines them, in order.
        let calls: Vec<_> = entries
            .into_iter()
            .map(|(key, entry)| {
                let (mut conn, script, key) = (self.conn.clone(), self.append.clone(), self.key(&key));
                async move {
                    let mut invocation = script.prepare_invoke();
                    invocation.key(&key).arg(entry.ts).arg(entry.body.as_ref()).arg(keep.max_count).arg(keep.oldest());
                    invocation.invoke_async::<i64>(&mut conn).await.map(drop).map_err(failed)
                }
            })
            .collect();
        Box::pin(async move { Ok(futures_util::future::join_all(calls).await) })
    }

    fn range(
        &self,
        key: String,
        start: u64,
        end: u64,
        limit: usize,
        keep: Retention,
    ) -> StoreFuture<Vec<HistoryEntry>> {
        let mut conn = self.conn.clone();
        let key = self.key(&key);
        let max = if start >= (1 << 53) { "+inf".to_string() } else { start.to_string() };
        let min = end.max(keep.oldest());
        let count: i64 = i64::try_from(limit).unwrap_or(-1);
        Box::pin(async move {
            let mut cmd = redis::cmd("ZREVRANGEBYSCORE");
            cmd.arg(&key).arg(max).arg(min).arg("WITHSCORES").arg("LIMIT").arg(0).arg(count);
            let found: Vec<(Vec<u8>, f64)> = cmd.query_async(&mut conn).await.map_err(failed)?;
            Ok(found.into_iter().map(|(body, ts)| HistoryEntry { ts: ts as u64, body: body.into() }).collect())
        })
    }

    fn keys(&self, prefix: String) -> StoreFuture<Vec<String>> {
        let mut conn = self.conn.clone();
        let own = self.prefix.clone();
        // Glob characters in the prefix match themselves.
        let pattern: String = format!("{own}{prefix}")
            .chars()
            .flat_map(|c| if "*?[]\\".contains(c) { vec!['\\', c] } else { vec![c] })
            .chain(['*'])
            .collect();
        Box::pin(async move {
            let mut keys = Vec::new();
            let mut cursor: u64 = 0;
            loop {
                let mut cmd = redis::cmd("SCAN");
                cmd.arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000);
                let (next, batch): (u64, Vec<String>) = cmd.query_async(&mut conn).await.map_err(failed)?;
                keys.extend(batch.into_iter().filter_map(|k| k.strip_prefix(&own).map(str::to_string)));
                if next == 0 {
                    return Ok(keys);
                }
                cursor = next;
            }
        })
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}
