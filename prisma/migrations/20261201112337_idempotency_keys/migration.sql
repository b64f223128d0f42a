-- CreateEnum
CREATE TYPE "IdempotencyState" AS ENUM ('in_flight', 'partial', 'completed');

-- CreateTable
CREATE TABLE "IdempotencyKey" (
    "id" TEXT NOT NULL,
    "streamId" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "state" "IdempotencyState" NOT NULL,
    "holder" TEXT,
    "leaseUntil" TIMESTAMP(3),
    "bodySha256" TEXT,
    "bodyBytes" BIGINT,
    "status" INTEGER,
    "response" JSONB,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "IdempotencyKey_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "IdempotentSpan" (
    "id" BIGSERIAL NOT NULL,
    "idempotencyKeyId" TEXT NOT NULL,
    "fileId" TEXT NOT NULL,
    "fromLine" BIGINT NOT NULL,
    "toLine" BIGINT NOT NULL,

    CONSTRAINT "IdempotentSpan_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "IdempotencyKey_expiresAt_idx" ON "IdempotencyKey"("expiresAt");

-- CreateIndex
CREATE UNIQUE INDEX "IdempotencyKey_streamId_key_key" ON "IdempotencyKey"("streamId", "key");

-- CreateIndex
CREATE INDEX "IdempotentSpan_idempotencyKeyId_idx" ON "IdempotentSpan"("idempotencyKeyId");

-- CreateIndex
CREATE INDEX "IdempotentSpan_fileId_idx" ON "IdempotentSpan"("fileId");

-- AddForeignKey
ALTER TABLE "IdempotencyKey" ADD CONSTRAINT "IdempotencyKey_streamId_fkey" FOREIGN KEY ("streamId") REFERENCES "Stream"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "IdempotentSpan" ADD CONSTRAINT "IdempotentSpan_idempotencyKeyId_fkey" FOREIGN KEY ("idempotencyKeyId") REFERENCES "IdempotencyKey"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "IdempotentSpan" ADD CONSTRAINT "IdempotentSpan_fileId_fkey" FOREIGN KEY ("fileId") REFERENCES "DataFile"("id") ON DELETE CASCADE ON UPDATE CASCADE;
