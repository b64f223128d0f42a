-- CreateEnum
CREATE TYPE "FileState" AS ENUM ('writing', 'committed', 'abandoned');

-- AlterTable
ALTER TABLE "DataFile" ADD COLUMN     "state" "FileState" NOT NULL DEFAULT 'committed';

-- CreateIndex
CREATE INDEX "DataFile_state_createdAt_idx" ON "DataFile"("state", "createdAt");
