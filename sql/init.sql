-- Initial schema for the LLM Multimodal Stack.
--
-- The postgres image runs this file once, on the first start of an empty
-- postgres_data volume, as ${POSTGRES_USER} connected to ${POSTGRES_DB}.
-- Later schema changes belong to the services' own migrations.

-- LiteLLM manages its own tables with Prisma ("db push"), which reconciles the
-- whole database to its schema. It gets a database of its own so it can never
-- touch the application tables below.
CREATE DATABASE litellm;

-- multimodal-worker: uploaded documents and the media extracted from them
-- (the binary objects live in MinIO, the vectors in Qdrant).
CREATE TABLE IF NOT EXISTS documents (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    filename     TEXT        NOT NULL,
    content_type TEXT        NOT NULL,
    object_key   TEXT        NOT NULL UNIQUE,      -- MinIO object key
    size_bytes   BIGINT      NOT NULL CHECK (size_bytes >= 0),
    sha256       CHAR(64)    NOT NULL,
    status       TEXT        NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'processing', 'indexed', 'failed')),
    metadata     JSONB       NOT NULL DEFAULT '{}'::jsonb,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS documents_status_idx ON documents (status);

CREATE TABLE IF NOT EXISTS document_chunks (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    document_id UUID        NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    chunk_index INTEGER     NOT NULL,
    modality    TEXT        NOT NULL CHECK (modality IN ('text', 'image', 'audio', 'video')),
    content     TEXT,
    vector_id   UUID,                              -- point id in Qdrant
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (document_id, chunk_index)
);

-- user-management: accounts and sessions.
CREATE TABLE IF NOT EXISTS users (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    username      TEXT        NOT NULL UNIQUE,
    email         TEXT        NOT NULL UNIQUE,
    password_hash TEXT        NOT NULL,
    is_active     BOOLEAN     NOT NULL DEFAULT true,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS sessions (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sessions_user_idx ON sessions (user_id);

-- memory-system: long-term conversation memory.
CREATE TABLE IF NOT EXISTS memories (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    UUID REFERENCES users (id) ON DELETE CASCADE,
    agent_id   TEXT,
    content    TEXT        NOT NULL,
    importance REAL        NOT NULL DEFAULT 0.5,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS memories_user_idx ON memories (user_id);

-- ai-agents: one row per agent execution.
CREATE TABLE IF NOT EXISTS agent_runs (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_name  TEXT        NOT NULL,
    user_id     UUID REFERENCES users (id) ON DELETE SET NULL,
    input       TEXT        NOT NULL,
    output      TEXT,
    status      TEXT        NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ
);

-- search-engine: query log for relevance tuning.
CREATE TABLE IF NOT EXISTS search_queries (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      UUID REFERENCES users (id) ON DELETE SET NULL,
    query        TEXT        NOT NULL,
    result_count INTEGER     NOT NULL DEFAULT 0,
    latency_ms   INTEGER,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
