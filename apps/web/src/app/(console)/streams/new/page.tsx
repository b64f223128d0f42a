import { StreamEditor } from '../../../../components/stream-editor';
import { verifySession } from '../../../../lib/dal';

export default async function NewStreamPage() {
  await verifySession();
  return (
    <>
      <header className="page-header">
        <h1>New stream</h1>
      </header>
      <StreamEditor />
    </>
  );
}
