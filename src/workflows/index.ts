export { StreamUploadWorkflow } from './stream-upload';
