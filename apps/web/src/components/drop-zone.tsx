'use client';
/** A file drop target that also offers a file picker; hands the first file to `onFile`. */
import { useState, type ReactNode } from 'react';

export function DropZone({
  label,
  testId,
  disabled = false,
  onFile,
  children,
}: {
  label: string;
  testId?: string;
  disabled?: boolean;
  onFile: (file: File) => void;
  children: ReactNode;
}) {
  const [dragging, setDragging] = useState(false);
  return (
    <section
      className={`dropzone${dragging ? ' active' : ''}`}
      aria-label={label}
      data-testid={testId}
      onDragOver={(event) => {
        event.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(event) => {
        event.preventDefault();
        setDragging(false);
        const file = event.dataTransfer.files[0];
        if (file && !disabled) onFile(file);
      }}
    >
      {children}
    </section>
  );
}
