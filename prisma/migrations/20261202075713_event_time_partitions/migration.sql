-- AlterTable
ALTER TABLE "Stream" ADD COLUMN     "partitioning" JSONB NOT NULL DEFAULT '{"source":"ingest","granularity":"hour"}';
