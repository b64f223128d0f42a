-- AlterTable
ALTER TABLE "DataFile" ADD COLUMN     "clickhouseAttempts" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "clickhouseClaimedBy" TEXT,
ADD COLUMN     "clickhouseLeaseUntil" TIMESTAMP(3),
ADD COLUMN     "clickhouseNextAt" TIMESTAMP(3);
