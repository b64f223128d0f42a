import { StreamEditor } from '../../../../components/stream-editor';

export default function NewStreamPage() {
  return (
    <>
      <header className="page-header">
        <h1>New stream</h1>
      </header>
      <StreamEditor />
    </>
  );
}
