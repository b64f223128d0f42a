-- AlterEnum
ALTER TYPE "FileState" ADD VALUE 'removed';

-- AlterTable
ALTER TABLE "DataFile" ADD COLUMN     "removeGroup" TEXT,
ADD COLUMN     "removedAt" TIMESTAMP(3),
ADD COLUMN     "removedVersion" INTEGER;

-- AlterTable
ALTER TABLE "Stream" ADD COLUMN     "retentionDays" INTEGER;

-- CreateTable
CREATE TABLE "StreamLease" (
    "streamId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "holder" TEXT NOT NULL,
    "leaseUntil" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "StreamLease_pkey" PRIMARY KEY ("streamId","kind")
);

-- CreateTable
CREATE TABLE "Compaction" (
    "id" TEXT NOT NULL,
    "streamId" TEXT NOT NULL,
    "partition" TEXT NOT NULL,
    "filesIn" INTEGER NOT NULL,
    "rows" INTEGER NOT NULL,
    "bytesIn" BIGINT NOT NULL,
    "bytesOut" BIGINT NOT NULL,
    "objectKey" TEXT NOT NULL,
    "startedAt" TIMESTAMP(3) NOT NULL,
    "finishedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Compaction_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Compaction_streamId_finishedAt_idx" ON "Compaction"("streamId", "finishedAt");

-- CreateIndex
CREATE INDEX "DataFile_state_removedAt_idx" ON "DataFile"("state", "removedAt");

-- AddForeignKey
ALTER TABLE "StreamLease" ADD CONSTRAINT "StreamLease_streamId_fkey" FOREIGN KEY ("streamId") REFERENCES "Stream"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Compaction" ADD CONSTRAINT "Compaction_streamId_fkey" FOREIGN KEY ("streamId") REFERENCES "Stream"("id") ON DELETE CASCADE ON UPDATE CASCADE;
