-- CreateEnum
CREATE TYPE "LakeTable" AS ENUM ('data', 'quarantine');

-- AlterTable
ALTER TABLE "DataFile" ADD COLUMN     "lakeTable" "LakeTable" NOT NULL DEFAULT 'data';

-- AlterTable
ALTER TABLE "DeltaLog" DROP CONSTRAINT "DeltaLog_pkey",
ADD COLUMN     "lakeTable" "LakeTable" NOT NULL DEFAULT 'data',
ADD CONSTRAINT "DeltaLog_pkey" PRIMARY KEY ("streamId", "lakeTable");
