-- AlterTable
ALTER TABLE "DataFile" ADD COLUMN     "stats" TEXT;
