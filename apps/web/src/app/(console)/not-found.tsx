import Link from 'next/link';

export default function NotFound() {
  return (
    <div className="empty">
      <p>There is nothing here: the stream or file may have been removed, or the address is wrong.</p>
      <Link href="/">Back to streams</Link>
    </div>
  );
}
