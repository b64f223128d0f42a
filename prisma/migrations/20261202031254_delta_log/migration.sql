-- AlterTable
ALTER TABLE "DataFile" ADD COLUMN     "commitGroup" TEXT,
ADD COLUMN     "deltaVersion" INTEGER;

-- CreateTable
CREATE TABLE "DeltaLog" (
    "streamId" TEXT NOT NULL,
    "version" INTEGER NOT NULL DEFAULT -1,
    "schemaVersion" INTEGER NOT NULL DEFAULT 0,
    "checkpointVersion" INTEGER,
    "holder" TEXT,
    "leaseUntil" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "DeltaLog_pkey" PRIMARY KEY ("streamId")
);

-- CreateIndex
CREATE INDEX "DataFile_streamId_deltaVersion_idx" ON "DataFile"("streamId", "deltaVersion");

-- AddForeignKey
ALTER TABLE "DeltaLog" ADD CONSTRAINT "DeltaLog_streamId_fkey" FOREIGN KEY ("streamId") REFERENCES "Stream"("id") ON DELETE CASCADE ON UPDATE CASCADE;
